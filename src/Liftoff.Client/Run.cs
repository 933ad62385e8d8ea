using System.Buffers;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Liftoff.Contracts;
using Liftoff.Core;

namespace Liftoff.Client;

/// <summary>
/// A tracked run for a .NET job: <c>await using var run = await Run.InitAsync(...)</c>, then <see cref="Log(IReadOnlyDictionary{string, double}, long?)"/>.
/// Logging never waits on the network: rows are batched and sent in the background, retried on transient failures,
/// and flushed by <see cref="FinishAsync"/>.
/// </summary>
public sealed class Run : IAsyncDisposable
{
    private const int MaxBatch = 1000;
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(30);

    private readonly LiftoffClient _client;
    private readonly Channel<Item> _items = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopRequested = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Task _sender;
    private readonly Task _heartbeat;
    private readonly ConsoleCapture? _console;
    private long _step;
    private int _finished;

    private Run(LiftoffClient client, RunInfo info, TimeSpan heartbeatInterval, bool captureConsole)
    {
        _client = client;
        Info = info;
        Config = JsonNode.Parse(info.Config.GetRawText())!.AsObject();
        _step = info.LastStep is { } last ? last + 1 : 0;
        _sender = Task.Run(SendLoopAsync);
        _heartbeat = Task.Run(() => HeartbeatLoopAsync(heartbeatInterval));
        if (captureConsole)
        {
            _console = ConsoleCapture.Start(this);
        }
    }

    /// <summary>The run as the server returned it at init.</summary>
    public RunInfo Info { get; }

    /// <summary>The run id.</summary>
    public string Id => Info.Id;

    /// <summary>The run's display name.</summary>
    public string Name => Info.Name;

    /// <summary>The run's project.</summary>
    public string Project => Info.Project;

    /// <summary>The run's entity.</summary>
    public string Entity => Info.Entity;

    /// <summary>The effective run config (init config with launch overrides applied).</summary>
    public JsonObject Config { get; }

    /// <summary>Cancelled when someone asks the run to stop (<c>liftoff runs stop</c>); a job should end soon after.</summary>
    public CancellationToken StopRequested => _stopRequested.Token;

    /// <summary>Starts a run, or attaches to the launched run named by <c>LIFTOFF_RUN_ID</c>.</summary>
    public static async Task<Run> InitAsync(RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new RunOptions();
        var settings = options.Settings ?? LiftoffSettings.Resolve(entity: options.Entity);
        if ((options.Entity ?? settings.Entity ?? Env("LIFTOFF_ENTITY")) is { } entity)
        {
            // Every call of the run (history, console, heartbeats) finds it under the entity it was made in.
            settings = settings with { Entity = entity };
        }

        var config = options.Config?.DeepClone().AsObject() ?? [];
        var client = new LiftoffClient(settings);
        try
        {
            var launchedRun = Env("LIFTOFF_RUN_ID");
            JsonObject? overrides = null;
            if (Environment.GetEnvironmentVariable("LIFTOFF_CONFIG") is { Length: > 0 } launchConfig)
            {
                overrides = JsonNode.Parse(launchConfig) as JsonObject ?? throw new LiftoffException("LIFTOFF_CONFIG must be a JSON object");
            }
            else if (launchedRun is not null && (options.Id is null || options.Id == launchedRun))
            {
                // An agent that could not pass LIFTOFF_CONFIG (SageMaker caps an environment value at 512 characters):
                // the launch's config is the pending run's, on the server.
                var pending = await client.GetRunAsync(launchedRun, cancellationToken);
                overrides = JsonNode.Parse(pending.Config.GetRawText()) as JsonObject ?? throw new LiftoffException($"launched run {launchedRun} has no config object");
            }

            foreach (var (key, value) in overrides ?? [])
            {
                config[key] = value?.DeepClone();
            }

            var info = await client.InitRunAsync(new InitRunRequest(
                Project: options.Project ?? Env("LIFTOFF_PROJECT"),
                Entity: settings.Entity,
                Id: options.Id ?? Env("LIFTOFF_RUN_ID"),
                Name: options.Name ?? Env("LIFTOFF_RUN_NAME"),
                Config: JsonDocument.Parse(config.ToJsonString()).RootElement,
                Host: Environment.MachineName,
                Os: RuntimeInformation.OSDescription,
                Program: Environment.GetCommandLineArgs().FirstOrDefault(),
                PythonVersion: null), cancellationToken);
            var heartbeat = options.HeartbeatInterval
                ?? (double.TryParse(Env("LIFTOFF_HEARTBEAT_SECONDS"), CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromSeconds(10));
            var capture = options.CaptureConsole ?? !string.Equals(Env("LIFTOFF_CONSOLE"), "off", StringComparison.OrdinalIgnoreCase);
            return new Run(client, info, heartbeat, capture);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Logs one history row at the next step (or at <paramref name="step"/>, which must not go backwards).</summary>
    public void Log(IReadOnlyDictionary<string, double> values, long? step = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        long rowStep;
        lock (_gate)
        {
            if (step is { } given && given < _step)
            {
                Warn($"step:{given}", $"liftoff: step {given} is before the current step {_step}; the row was dropped");
                return;
            }

            rowStep = step ?? _step;
            _step = rowStep + 1;
        }

        var buffer = new ArrayBufferWriter<byte>(64 + values.Count * 24);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in values)
            {
                if (double.IsFinite(value))
                {
                    writer.WriteNumber(key, value);
                }
                else
                {
                    // JSON has no NaN or Infinity: the server stores these names, as it does for wandb clients.
                    writer.WriteString(key, double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
                }
            }

            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        _items.Writer.TryWrite(new Item.History(new HistoryRow(rowStep, document.RootElement.Clone(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0)));
    }

    /// <summary>Logs one metric at the next step.</summary>
    public void Log(string key, double value) => Log(new Dictionary<string, double> { [key] = value });

    /// <summary>Sets summary values (they otherwise follow the last logged value of each key).</summary>
    public Task SetSummaryAsync(JsonObject values, CancellationToken cancellationToken = default) =>
        _client.PatchRunAsync(Id, new PatchRunRequest(Summary: JsonDocument.Parse(values.ToJsonString()).RootElement), cancellationToken);

    /// <summary>Merges keys into the run config.</summary>
    public async Task UpdateConfigAsync(JsonObject values, CancellationToken cancellationToken = default)
    {
        await _client.PatchRunAsync(Id, new PatchRunRequest(Config: JsonDocument.Parse(values.ToJsonString()).RootElement), cancellationToken);
        foreach (var (key, value) in values)
        {
            Config[key] = value?.DeepClone();
        }
    }

    /// <summary>
    /// Uploads a file or directory as a version of artifact <paramref name="name"/> in the run's project, produced by this
    /// run. Content equal to an existing version is that version (nothing is sent twice).
    /// </summary>
    public Task<ArtifactVersionInfo> LogArtifactAsync(string path, string name, string type, IReadOnlyList<string>? aliases = null, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        _client.UploadArtifactAsync(path, Project, name, new ArtifactUploadOptions(type) { Aliases = aliases ?? [], RunId = Id }, progress, cancellationToken);

    /// <summary>Records that this run uses an artifact version (<c>name</c>, <c>name:alias</c> or <c>name:vK</c>, in the run's project) and returns it, ready to download.</summary>
    public async Task<UsedArtifact> UseArtifactAsync(string artifact, CancellationToken cancellationToken = default) =>
        new(_client, await _client.UseArtifactAsync(Id, artifact, Project, cancellationToken));

    /// <summary>Flushes everything logged and ends the run: exit code 0 is finished, anything else failed.</summary>
    public async Task FinishAsync(int exitCode = 0, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _finished, 1) == 1)
        {
            return;
        }

        _console?.Dispose();
        _items.Writer.TryComplete();
        await _sender.WaitAsync(FlushTimeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!_sender.IsCompleted)
        {
            await Console.Error.WriteLineAsync($"liftoff: could not send everything within {FlushTimeout.TotalSeconds:0} s; some rows were not stored");
        }

        await _shutdown.CancelAsync();
        await _heartbeat.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await RetryAsync(ct => _client.FinishRunAsync(Id, exitCode, ct), cancellationToken);
    }

    /// <summary>Finishes with exit code 0 if <see cref="FinishAsync"/> was not called.</summary>
    public async ValueTask DisposeAsync()
    {
        await FinishAsync(0);
        _stopRequested.Dispose();
        _shutdown.Dispose();
        _client.Dispose();
    }

    internal void EnqueueConsole(string stream, string text) =>
        _items.Writer.TryWrite(new Item.Console(new LogLine(stream, text, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0)));

    private async Task SendLoopAsync()
    {
        var history = new List<HistoryRow>(MaxBatch);
        var console = new List<LogLine>(MaxBatch);
        long consoleOffset = Info.LogLines;
        var reader = _items.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (history.Count < MaxBatch && console.Count < MaxBatch && reader.TryRead(out var item))
            {
                switch (item)
                {
                    case Item.History h:
                        history.Add(h.Row);
                        break;
                    case Item.Console c:
                        console.Add(c.Line);
                        break;
                }
            }

            if (history.Count > 0)
            {
                var rows = history.ToArray();
                await RetryAsync(ct => _client.AppendHistoryAsync(Id, rows, ct), CancellationToken.None);
                history.Clear();
            }

            if (console.Count > 0)
            {
                var lines = console.ToArray();
                var offset = consoleOffset;
                await RetryAsync(ct => _client.AppendLogsAsync(Id, offset, lines, ct), CancellationToken.None);
                consoleOffset += lines.Length;
                console.Clear();
            }
        }
    }

    private async Task HeartbeatLoopAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_shutdown.Token))
            {
                try
                {
                    var reply = await _client.HeartbeatAsync(Id, _shutdown.Token);
                    if (reply.StopRequested && !_stopRequested.IsCancellationRequested)
                    {
                        await _stopRequested.CancelAsync();
                    }
                }
                catch (LiftoffException)
                {
                    // A missed heartbeat is harmless; the next tick tries again.
                }
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            // Finished.
        }
    }

    /// <summary>Retries transient failures (no answer, 5xx, 429) with capped exponential backoff and jitter; gives up on other errors with a warning.</summary>
    private async Task RetryAsync<T>(Func<CancellationToken, Task<T>> send, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await send(cancellationToken);
                return;
            }
            catch (LiftoffException ex) when (IsTransient(ex) && attempt < 30 && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Backoff.Delay(attempt, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10)), cancellationToken);
            }
            catch (LiftoffException ex)
            {
                Warn("send:" + ex.Message, $"liftoff: the server refused data for run {Id}: {ex.Message}");
                return;
            }
        }
    }

    private static bool IsTransient(LiftoffException ex) =>
        ex.StatusCode is null or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError;

    private void Warn(string key, string message)
    {
        lock (_warned)
        {
            if (!_warned.Add(key))
            {
                return;
            }
        }

        (_console?.OriginalError ?? Console.Error).WriteLine(message);
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    private abstract record Item
    {
        public sealed record History(HistoryRow Row) : Item;

        public sealed record Console(LogLine Line) : Item;
    }
}
