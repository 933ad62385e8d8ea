using System.Net;
using System.Threading.Channels;
using Liftoff.Client;
using Liftoff.Contracts;
using Microsoft.Extensions.Logging;

namespace Liftoff.Targets;

/// <summary>
/// A run's console log as the agent captures it: lines are queued as the workload writes them and sent in batches
/// (<c>POST /runs/{id}/logs</c>) with increasing offsets, retried with backoff while the server is unreachable. Keeps
/// the last stderr lines for the failure message.
/// </summary>
internal sealed class RunConsole
{
    private const int MaxBatchLines = 2_000;
    private const int MaxBatchChars = 1 << 20;
    private const int MaxLineChars = 64 * 1024;
    private const int TailLines = 15;

    /// <summary>How long a partial batch waits for more lines: short, so a user following the logs sees them at once.</summary>
    private static readonly TimeSpan FlushDelay = TimeSpan.FromMilliseconds(100);

    private readonly LiftoffClient _client;
    private readonly string _runId;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<LogLine> _lines = Channel.CreateBounded<LogLine>(new BoundedChannelOptions(50_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Queue<string> _stderrTail = new();
    private readonly Task _pump;
    private readonly CancellationTokenSource _abort = new();
    private readonly Func<string, string> _redact;
    private long _offset;

    /// <param name="startOffset">The run's console line count when another console wrote to it before (an adopted workload):
    /// the server drops lines sent below its count as retries.</param>
    /// <param name="redact">Takes the launch's secrets out of each line before it is kept or sent.</param>
    public RunConsole(LiftoffClient client, string runId, TimeProvider time, ILogger logger, long startOffset = 0, Func<string, string>? redact = null)
    {
        _redact = redact ?? (text => text);
        _offset = startOffset;
        _client = client;
        _runId = runId;
        _time = time;
        _logger = logger;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Queues one line; waits when the server has fallen far behind, so a chatty workload slows down rather than the agent's memory growing.</summary>
    public async ValueTask WriteAsync(string stream, string text, CancellationToken cancellationToken)
    {
        text = _redact(text);
        if (stream == "stderr")
        {
            lock (_stderrTail)
            {
                _stderrTail.Enqueue(text.Length > 300 ? text[..300] + "…" : text);
                if (_stderrTail.Count > TailLines)
                {
                    _stderrTail.Dequeue();
                }
            }
        }

        var time = _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        for (var start = 0; start == 0 || start < text.Length; start += MaxLineChars)
        {
            var part = text.Length - start > MaxLineChars ? text.Substring(start, MaxLineChars) : text[start..];
            await _lines.Writer.WriteAsync(new LogLine(stream, part, time), cancellationToken);
        }
    }

    /// <summary>The last lines the workload wrote to stderr, oldest first.</summary>
    public IReadOnlyList<string> StderrTail()
    {
        lock (_stderrTail)
        {
            return [.. _stderrTail];
        }
    }

    /// <summary>Sends what is queued and stops; <paramref name="cancellationToken"/> gives up on lines the server has not taken yet.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        _lines.Writer.TryComplete();
        using var registration = cancellationToken.Register(_abort.Cancel);
        await _pump;
    }

    private async Task PumpAsync()
    {
        var batch = new List<LogLine>();
        var backoff = Backoff.Default();
        var reader = _lines.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_abort.Token))
            {
                var chars = 0;
                using (var window = new CancellationTokenSource(FlushDelay, _time))
                {
                    while (batch.Count < MaxBatchLines && chars < MaxBatchChars)
                    {
                        if (reader.TryRead(out var line))
                        {
                            batch.Add(line);
                            chars += line.Text.Length;
                            continue;
                        }

                        try
                        {
                            if (!await reader.WaitToReadAsync(window.Token))
                            {
                                break;
                            }
                        }
                        catch (OperationCanceledException) when (window.IsCancellationRequested)
                        {
                            break;
                        }
                    }
                }

                await SendAsync(batch, backoff);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            _logger.LogWarning("Gave up sending {Lines} queued console lines of run {RunId}: the agent is stopping", batch.Count + _lines.Reader.Count, _runId);
        }
    }

    private async Task SendAsync(List<LogLine> batch, Backoff backoff)
    {
        while (true)
        {
            try
            {
                var accepted = await _client.AppendLogsAsync(_runId, _offset, batch, _abort.Token);
                // The server's count, not ours: should anything else write to this run's console, lines interleave
                // instead of one writer's numbers shadowing the other's.
                _offset = Math.Max(_offset + batch.Count, accepted.NextOffset);
                backoff.Reset();
                return;
            }
            catch (LiftoffException ex) when (ex.StatusCode is { } status && (int)status is >= 400 and < 500 and not 408 and not 429)
            {
                if (status == HttpStatusCode.BadRequest && await TryResyncAsync())
                {
                    continue;
                }

                _logger.LogWarning("The server refused {Lines} console lines of run {RunId}: {Reason}", batch.Count, _runId, ex.Message);
                return;
            }
            catch (Exception ex) when (!_abort.IsCancellationRequested)
            {
                var delay = backoff.Next();
                _logger.LogWarning("Could not send console lines of run {RunId} ({Reason}); retrying in {Delay:0.0} s", _runId, ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, _time, _abort.Token);
            }
        }
    }

    /// <summary>A 400 for a gap means our offset is ahead of the server's count (a lost reply); continue from the server's.</summary>
    private async Task<bool> TryResyncAsync()
    {
        try
        {
            var run = await _client.GetRunAsync(_runId, _abort.Token);
            if (run.LogLines == _offset)
            {
                return false;
            }

            _offset = run.LogLines;
            return true;
        }
        catch (LiftoffException)
        {
            return false;
        }
    }
}
