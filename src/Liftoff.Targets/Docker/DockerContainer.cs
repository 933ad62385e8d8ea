using System.Globalization;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Liftoff.Targets.Docker;

/// <summary>
/// A started container: its stdout and stderr follow into the run's console while it runs; its end is the engine's
/// wait result, with OOMKilled named as such; it is removed once watched to the end unless the config keeps it.
/// </summary>
internal sealed class DockerContainer : ILaunchedWorkload
{
    private readonly DockerEngine _engine;
    private readonly string _id;
    private readonly bool _keep;
    private readonly long? _memory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _logStop = new();
    private readonly Task _logs;

    public DockerContainer(DockerEngine engine, string id, bool keep, RunConsole console, DateTimeOffset? since, long? memory, ILogger logger)
    {
        _engine = engine;
        _id = id;
        _keep = keep;
        _memory = memory;
        _logger = logger;
        _logs = Task.Run(() => FollowLogsAsync(console, since));
    }

    public async Task<WorkloadExit> WaitForExitAsync(CancellationToken cancellationToken)
    {
        var wait = await _engine.Client.Containers.WaitContainerAsync(_id, cancellationToken);
        var inspect = await _engine.Client.Containers.InspectContainerAsync(_id, cancellationToken);
        await _logs.WaitAsync(cancellationToken);
        var code = (int)wait.StatusCode;
        if (inspect.State?.OOMKilled == true)
        {
            var limit = _memory is { } bytes ? $" of {bytes / (1024.0 * 1024):0.#} MiB" : "";
            return new WorkloadExit(code, $"OOMKilled: the container ran out of memory (its limit{limit}); raise the queue's memory");
        }

        return new WorkloadExit(code, inspect.State?.Error is { Length: > 0 } error ? error : null);
    }

    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        try
        {
            if (grace <= TimeSpan.Zero)
            {
                await _engine.Client.Containers.KillContainerAsync(_id, new ContainerKillParameters { Signal = "KILL" }, cancellationToken);
            }
            else
            {
                await _engine.Client.Containers.StopContainerAsync(_id, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)Math.Ceiling(grace.TotalSeconds) }, cancellationToken);
            }
        }
        catch (DockerApiException ex) when (ex.StatusCode is System.Net.HttpStatusCode.Conflict or System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.NotModified)
        {
            // Not running any more (or gone): stopped, which is what was asked.
        }
        catch (DockerContainerNotFoundException)
        {
            // Gone already.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _logStop.CancelAsync();
        try
        {
            await _logs;
        }
        catch (OperationCanceledException)
        {
            // The follow was cut short on purpose.
        }

        _logStop.Dispose();
        if (_keep)
        {
            return;
        }

        try
        {
            await _engine.Client.Containers.RemoveContainerAsync(_id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
        catch (DockerContainerNotFoundException)
        {
            // Removed already.
        }
        catch (DockerApiException ex)
        {
            _logger.LogWarning("Could not remove container {Container}: {Reason}", _id, DockerEngine.Reason(ex));
        }
    }

    /// <summary>Reads the engine's multiplexed log stream until the container stops, line by line per stream.</summary>
    private async Task FollowLogsAsync(RunConsole console, DateTimeOffset? since)
    {
        var parameters = new ContainerLogsParameters
        {
            Follow = true,
            ShowStdout = true,
            ShowStderr = true,
            Since = since?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        };
        try
        {
            using var stream = await _engine.Client.Containers.GetContainerLogsAsync(_id, parameters, _logStop.Token);
            var buffer = new byte[81920];
            var lines = new Dictionary<MultiplexedStream.TargetStream, LineSplitter>
            {
                [MultiplexedStream.TargetStream.StandardOut] = new("stdout"),
                [MultiplexedStream.TargetStream.StandardError] = new("stderr"),
            };
            while (true)
            {
                var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, _logStop.Token);
                if (read.EOF)
                {
                    break;
                }

                if (lines.TryGetValue(read.Target, out var splitter))
                {
                    await splitter.WriteAsync(buffer.AsMemory(0, read.Count), console, _logStop.Token);
                }
            }

            foreach (var splitter in lines.Values)
            {
                await splitter.FlushAsync(console, _logStop.Token);
            }
        }
        catch (OperationCanceledException) when (_logStop.IsCancellationRequested)
        {
            // Disposed while following.
        }
        catch (Exception ex) when (ex is DockerApiException or IOException or HttpRequestException)
        {
            _logger.LogWarning("Stopped following the output of container {Container}: {Reason}", _id, ex.Message);
        }
    }

    /// <summary>Bytes of one stream into whole lines (UTF-8 decoded across reads); the last partial line flushes at the end.</summary>
    private sealed class LineSplitter(string stream)
    {
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
        private readonly StringBuilder _line = new();
        private char[] _chars = new char[4096];

        public async Task WriteAsync(ReadOnlyMemory<byte> bytes, RunConsole console, CancellationToken cancellationToken)
        {
            var needed = _decoder.GetCharCount(bytes.Span, flush: false);
            if (needed > _chars.Length)
            {
                _chars = new char[needed];
            }

            var count = _decoder.GetChars(bytes.Span, _chars, flush: false);
            for (var i = 0; i < count; i++)
            {
                var c = _chars[i];
                if (c == '\n')
                {
                    await console.WriteAsync(stream, _line.ToString().TrimEnd('\r'), cancellationToken);
                    _line.Clear();
                }
                else
                {
                    _line.Append(c);
                }
            }
        }

        public async Task FlushAsync(RunConsole console, CancellationToken cancellationToken)
        {
            if (_line.Length > 0)
            {
                await console.WriteAsync(stream, _line.ToString(), cancellationToken);
                _line.Clear();
            }
        }
    }
}
