using System.Threading.Channels;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace Liftoff.Targets.Docker;

/// <summary>Where build, pull and push output goes: the run's console for a launch, the terminal for <c>liftoff job build</c>.</summary>
internal delegate ValueTask BuildOutput(string stream, string line, CancellationToken cancellationToken);

/// <summary>
/// The engine's progress messages (build steps, push layers) as console lines, in order: the client library reports
/// them on its own thread, so they queue here and one loop writes them. Keeps the last lines and the first error.
/// </summary>
internal sealed class EngineProgress : IProgress<JSONMessage>
{
    private const int TailLines = 20;

    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Queue<string> _tail = new();
    private readonly Task _pump;
    private readonly ILogger _logger;
    private readonly string _what;

    public EngineProgress(BuildOutput output, ILogger logger, string what)
    {
        _logger = logger;
        _what = what;
        _pump = Task.Run(async () =>
        {
            await foreach (var line in _lines.Reader.ReadAllAsync())
            {
                await output("stdout", line, CancellationToken.None);
            }
        });
    }

    public string? Error { get; private set; }

    public void Report(JSONMessage value)
    {
        var error = value.Error?.Message;
        if (!string.IsNullOrEmpty(error))
        {
            Fail(error);
            return;
        }

        var text = value.Stream ?? (value.Status is { Length: > 0 } status ? (value.ID is { Length: > 0 } id ? $"{id}: {status}" : status) : null);
        if (text is null)
        {
            return;
        }

        foreach (var line in text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0))
        {
            Write(line);
        }
    }

    public void Fail(string error)
    {
        Error ??= error.Trim();
        Write("error: " + error.Trim());
    }

    public string Tail()
    {
        lock (_tail)
        {
            return _tail.Count == 0 ? "" : "\nlast lines:\n" + string.Join('\n', _tail);
        }
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        _lines.Writer.TryComplete();
        await _pump.WaitAsync(cancellationToken);
    }

    private void Write(string line)
    {
        lock (_tail)
        {
            _tail.Enqueue(line);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
        }

        _logger.LogInformation("[{What}] {Line}", _what, line);
        _lines.Writer.TryWrite(line);
    }
}
