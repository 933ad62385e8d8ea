using System.Net;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Targets;
using Microsoft.Extensions.Logging;

namespace Liftoff.Agent;

/// <summary>
/// One claimed item, from the claim to its last report: heartbeats its lease under the attempt's fencing token,
/// reports starting → running → finished/failed/cancelled, and stops the workload when the item is cancelled, when
/// another attempt owns it (409: stop at once, report nothing more), or when the agent stops (then releases the item).
/// </summary>
internal sealed class ItemExecution
{
    private const int MaxMessageChars = 4_000;

    private readonly Target _target;
    private readonly ILaunchRunner? _runner;
    private readonly LiftoffClient _client;
    private readonly AgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<TimeSpan> _heartbeatInterval;

    /// <summary>Stop the workload (politely first, except for <see cref="StopReason.Lost"/>).</summary>
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Stop at once, skip the grace period and give up on reports.</summary>
    private readonly CancellationTokenSource _force = new();

    private int _reason = (int)StopReason.None;

    /// <summary>The workload being watched, whose waiting reason each heartbeat carries.</summary>
    private volatile ILaunchedWorkload? _workload;

    /// <summary>The workload was stopped for the agent's shutdown: the item goes back to its queue once the heartbeats stop.</summary>
    private bool _release;

    private ItemExecution(Target target, ILaunchRunner? runner, LiftoffClient client, AgentOptions options, TimeProvider time, ILogger logger, Func<TimeSpan> heartbeatInterval)
    {
        _target = target;
        _runner = runner;
        _client = client;
        _options = options;
        _time = time;
        _logger = logger;
        _heartbeatInterval = heartbeatInterval;
    }

    /// <summary>A claimed item: the runner starts its workload.</summary>
    public static ItemExecution ForClaim(Claim claim, ILaunchRunner? runner, LiftoffClient client, AgentOptions options, TimeProvider time, ILogger logger, Func<TimeSpan> heartbeatInterval) =>
        new(new Target(claim.Spec.ItemId, claim.Spec.Attempt, claim.Spec.RunId, claim.Spec.Queue, claim.Spec.Resource, claim.Spec.Job, claim.Spec.Environment, claim.Spec.Secrets, claim.Spec, null),
            runner, client, options, time, logger, heartbeatInterval);

    /// <summary>A workload an earlier run of this agent left behind: re-attached if its attempt still holds the item, else removed.</summary>
    public static ItemExecution ForLeftover(LeftoverWorkload leftover, ILaunchRunner runner, LiftoffClient client, AgentOptions options, TimeProvider time, ILogger logger, Func<TimeSpan> heartbeatInterval) =>
        new(new Target(leftover.ItemId, leftover.Attempt, leftover.RunId, leftover.Queue, leftover.Resource, "", leftover.Environment, null, null, leftover),
            runner, client, options, time, logger, heartbeatInterval);

    private enum StopReason
    {
        None,

        /// <summary>The item was cancelled (queue cancel, runs stop): stop the workload, report cancelled.</summary>
        Cancelled,

        /// <summary>Another attempt holds the item (409) or it is gone: stop at once, report nothing.</summary>
        Lost,

        /// <summary>The agent stops without draining: stop the workload and hand the item back (released at once).</summary>
        HandedBack,

        /// <summary>The run passed its max run time: stop the workload, fail the attempt with class timeout.</summary>
        TimedOut,
    }

    public string ItemId => Spec.ItemId;

    private Target Spec => _target;

    private StopReason Reason => (StopReason)Volatile.Read(ref _reason);

    /// <summary>The agent stops without draining: stop the workload within the grace period, then release the item.</summary>
    public void HandBack() => RequestStop(StopReason.HandedBack);

    /// <summary>The second signal: end the workload now and stop reporting.</summary>
    public void Kill()
    {
        RequestStop(StopReason.HandedBack);
        _force.Cancel();
    }

    public async Task RunAsync()
    {
        using var scope = _logger.BeginScope(new Dictionary<string, object>
        {
            ["ItemId"] = Spec.ItemId,
            ["Attempt"] = Spec.Attempt,
            ["RunId"] = Spec.RunId,
            ["Queue"] = Spec.Queue,
        });
        using var heartbeatStop = new CancellationTokenSource();
        var heartbeat = HeartbeatLoopAsync(heartbeatStop.Token);
        var workDirectory = Path.Combine(_options.WorkDirectory, "items", $"{Spec.ItemId}-{Spec.Attempt}");
        try
        {
            if (Spec.Leftover is { } leftover)
            {
                await AdoptAsync(leftover);
            }
            else
            {
                _logger.LogInformation("Claimed item {ItemId} (attempt {Attempt}) of queue {Queue}: job {Job}, run {RunId}", Spec.ItemId, Spec.Attempt, Spec.Queue, Spec.Job, Spec.RunId);
                if (await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Starting)))
                {
                    Directory.CreateDirectory(workDirectory);
                    await RunWorkloadAsync(workDirectory);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_force.IsCancellationRequested)
        {
            _logger.LogError("Item {ItemId} failed in the agent: {Error}", Spec.ItemId, Redact(ex.ToString()));
            await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Failed, ItemPhases.Submit, Message($"the agent failed: {ex.Message}"), FailureClass: FailureClasses.Infrastructure));
        }
        finally
        {
            await heartbeatStop.CancelAsync();
            await heartbeat;
            TryDelete(workDirectory);
        }

        // After the last heartbeat: the next holder of the item may reuse this attempt number.
        if (_release && !_force.IsCancellationRequested)
        {
            await ReleaseAsync();
        }
    }

    private async Task RunWorkloadAsync(string workDirectory)
    {
        var console = new RunConsole(_client, Spec.RunId, _time, _logger, redact: Redact);
        ILaunchedWorkload workload;
        try
        {
            var runner = _runner ?? throw new LaunchException(ItemPhases.Submit, $"this agent has no runner for '{Spec.Resource}' items");
            var spec = Spec.Launch!;
            var job = spec.JobDefinition.Deserialize(LiftoffJsonContext.Default.JobDefinition) ?? throw new LaunchException(ItemPhases.Submit, "the launch carries no job definition");
            workload = await runner.StartAsync(new LaunchContext(spec, job, console, _client, workDirectory), _stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            await console.CompleteAsync(_force.Token);
            await EndStoppedAsync(exitCode: null);
            return;
        }
        catch (LaunchException ex)
        {
            _logger.LogWarning("Item {ItemId} failed to start ({Phase}): {Reason}", Spec.ItemId, ex.Phase, Message(ex.Message));
            await console.CompleteAsync(_force.Token);
            if (Reason == StopReason.None)
            {
                await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Failed, ex.Phase, Message(ex.Message), FailureClass: ex.FailureClass));
            }
            else
            {
                await EndStoppedAsync(exitCode: null);
            }

            return;
        }

        if (Reason == StopReason.None && !await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Running)))
        {
            RequestStop(StopReason.Lost);
        }

        await WatchAsync(workload, console);
    }

    /// <summary>
    /// Takes over a leftover workload: a heartbeat under its attempt tells whether the attempt still holds the item.
    /// If it does, the agent reports it running (when it had not yet) and watches it as if it had started it; if another
    /// attempt owns the item or it is gone, the workload is removed.
    /// </summary>
    private async Task AdoptAsync(LeftoverWorkload leftover)
    {
        var runner = (IReattachableRunner)_runner!;
        ItemHeartbeatReply reply;
        try
        {
            reply = await _client.ItemHeartbeatAsync(Spec.ItemId, Spec.Attempt, _force.Token);
        }
        catch (LiftoffException ex) when (ex.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
        {
            _logger.LogInformation("Removing the leftover workload {Handle} of item {ItemId}: attempt {Attempt} no longer holds it ({Reason})", leftover.Handle, Spec.ItemId, Spec.Attempt, ex.Message);
            await runner.RemoveAsync(leftover, _force.Token);
            return;
        }

        _logger.LogInformation("Re-attached to the workload {Handle} of item {ItemId} (attempt {Attempt}, run {RunId})", leftover.Handle, Spec.ItemId, Spec.Attempt, Spec.RunId);
        if (reply.CancelRequested)
        {
            RequestStop(StopReason.Cancelled);
        }

        var run = await _client.GetRunAsync(Spec.RunId, _force.Token);
        var console = new RunConsole(_client, Spec.RunId, _time, _logger, run.LogLines, Redact);
        var workload = await runner.AttachAsync(leftover, console, _force.Token);
        if (reply.State is ItemStates.Leased or ItemStates.Starting && Reason == StopReason.None && !await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Running)))
        {
            RequestStop(StopReason.Lost);
        }

        await WatchAsync(workload, console);
    }

    /// <summary>Waits for the workload to end or for a stop request, then reports the end.</summary>
    private async Task WatchAsync(ILaunchedWorkload workload, RunConsole console)
    {
        await using (workload)
        {
            _workload = workload;
            var exited = workload.WaitForExitAsync(CancellationToken.None);
            using var timer = MaxRunTimer();
            await Task.WhenAny(exited, Task.Delay(Timeout.InfiniteTimeSpan, _time, _stop.Token));
            if (!exited.IsCompleted)
            {
                var grace = Reason == StopReason.Lost ? TimeSpan.Zero : _options.StopGracePeriod;
                _logger.LogInformation("Stopping the workload of item {ItemId} ({Reason}; grace {Grace:0.#} s)", Spec.ItemId, Reason, grace.TotalSeconds);
                try
                {
                    await workload.StopAsync(grace, _force.Token);
                }
                catch (OperationCanceledException) when (_force.IsCancellationRequested)
                {
                    await workload.StopAsync(TimeSpan.Zero, CancellationToken.None);
                }
            }

            var exit = await exited;
            await console.CompleteAsync(_force.Token);
            _logger.LogInformation("The workload of item {ItemId} exited with code {ExitCode}", Spec.ItemId, exit.ExitCode);
            if (Reason != StopReason.None)
            {
                await EndStoppedAsync(exit.ExitCode);
                return;
            }

            await EndExitedAsync(exit, console);
        }
    }

    /// <summary>The workload stopped because someone asked: a cancel is reported, a handed-back item released; a lost item is another attempt's business.</summary>
    private async Task EndStoppedAsync(int? exitCode)
    {
        switch (Reason)
        {
            case StopReason.Cancelled:
                await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Cancelled, ExitCode: exitCode));
                break;
            case StopReason.Lost:
                _logger.LogWarning("Dropped item {ItemId}: attempt {Attempt} no longer holds it", Spec.ItemId, Spec.Attempt);
                break;
            case StopReason.TimedOut:
                await TryAsync(() => _client.FinishRunAsync(Spec.RunId, exitCode ?? 143, _force.Token));
                await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Failed, ItemPhases.Run,
                    $"the run passed its max run time of {Spec.Launch!.MaxRunSeconds} s and was stopped", exitCode, FailureClasses.Timeout));
                break;
            default:
                _release = true;
                break;
        }
    }

    /// <summary>The workload ended by itself: map its exit and the run's state to the item's end.</summary>
    private async Task EndExitedAsync(WorkloadExit exit, RunConsole console)
    {
        var run = await ReadRunAsync();
        var tail = string.Join('\n', console.StderrTail());
        var output = tail.Length > 0 ? $"; last stderr lines:\n{tail}" : "";
        if (exit.Phase is { } phase)
        {
            await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Failed, phase, Message(exit.Reason ?? $"the target did not run the workload ({phase})"), exit.ExitCode,
                exit.FailureClass ?? FailureClasses.Config));
            return;
        }

        if (run?.State == RunStates.Pending)
        {
            await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Failed, ItemPhases.Run, Message($"the job never called init (it exited with code {exit.ExitCode}{Describe(exit)}){output}"), exit.ExitCode,
                exit.FailureClass ?? FailureClasses.User));
            return;
        }

        if (run?.State == RunStates.Running)
        {
            // The process ended without the SDK finishing the run (os._exit, a signal, a non-Python entrypoint).
            await TryAsync(() => _client.FinishRunAsync(Spec.RunId, exit.ExitCode, _force.Token));
        }

        if (run is { StopRequested: true } || run?.State == RunStates.Killed)
        {
            // A run stopped through `runs stop`: the server marks the item to cancel; a fresh heartbeat tells.
            var reply = await TryAsync(() => _client.ItemHeartbeatAsync(Spec.ItemId, Spec.Attempt, _force.Token));
            if (reply is { CancelRequested: true })
            {
                await ReportAsync(new ItemProgressRequest(Spec.Attempt, ItemStates.Cancelled, ExitCode: exit.ExitCode));
                return;
            }
        }

        await ReportAsync(exit.ExitCode == 0
            ? new ItemProgressRequest(Spec.Attempt, ItemStates.Finished, ExitCode: 0)
            : new ItemProgressRequest(Spec.Attempt, ItemStates.Failed, ItemPhases.Run, Message($"the job exited with code {exit.ExitCode}{Describe(exit)}{output}"), exit.ExitCode,
                exit.FailureClass ?? FailureClasses.User));
    }

    private async Task<RunInfo?> ReadRunAsync()
    {
        var backoff = Backoff.Default();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                return await _client.GetRunAsync(Spec.RunId, _force.Token);
            }
            catch (Exception ex) when (!_force.IsCancellationRequested)
            {
                _logger.LogWarning("Could not read run {RunId} ({Reason}); retrying", Spec.RunId, ex.Message);
                await Task.Delay(backoff.Next(), _time, _force.Token);
            }
        }

        return null;
    }

    /// <summary>
    /// Sends a progress report, retrying transient failures (the heartbeats keep the lease meanwhile). False when the
    /// server refused it: 409 means another attempt owns the item, so nothing more is reported.
    /// </summary>
    private async Task<bool> ReportAsync(ItemProgressRequest progress)
    {
        var backoff = Backoff.Default();
        while (true)
        {
            try
            {
                await _client.ReportItemAsync(Spec.ItemId, progress, _force.Token);
                if (progress.State is ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled)
                {
                    _logger.LogInformation("Item {ItemId} {State}{Detail}", Spec.ItemId, progress.State, progress.Phase is null ? "" : $" in {progress.Phase}: {progress.Message}");
                }

                return true;
            }
            catch (LiftoffException ex) when (ex.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                _logger.LogWarning("The server refused '{State}' for item {ItemId}: {Reason}", progress.State, Spec.ItemId, ex.Message);
                RequestStop(StopReason.Lost);
                return false;
            }
            catch (LiftoffException ex) when (ex.StatusCode is { } status && (int)status is >= 400 and < 500 and not 408 and not 429)
            {
                _logger.LogError("The server refused '{State}' for item {ItemId}: {Reason}", progress.State, Spec.ItemId, ex.Message);
                return false;
            }
            catch (Exception ex) when (!_force.IsCancellationRequested)
            {
                var delay = backoff.Next();
                _logger.LogWarning("Could not report '{State}' for item {ItemId} ({Reason}); retrying in {Delay:0.0} s", progress.State, Spec.ItemId, ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, _time, _force.Token);
            }
        }
    }

    /// <summary>
    /// Hands the item back (the client retries a passing failure: a release is idempotent). When that fails, the lease
    /// running out returns the item instead, at the cost of an attempt.
    /// </summary>
    private async Task ReleaseAsync()
    {
        try
        {
            await _client.ReleaseItemAsync(Spec.ItemId, new ItemReleaseRequest(Spec.Attempt, Spec.RunId), _force.Token);
            _logger.LogInformation("Handed item {ItemId} back to queue {Queue}", Spec.ItemId, Spec.Queue);
        }
        catch (LiftoffException ex)
        {
            _logger.LogWarning("Could not hand item {ItemId} back ({Reason}); it returns to its queue when its lease expires", Spec.ItemId, ex.Message);
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken stoppingToken)
    {
        var backoff = Backoff.Default();
        var delay = _heartbeatInterval();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, _time, stoppingToken);
                var reply = await _client.ItemHeartbeatAsync(Spec.ItemId, new ItemHeartbeatRequest(Spec.Attempt, WaitingReason()), stoppingToken);
                backoff.Reset();
                delay = _heartbeatInterval();
                if (reply.CancelRequested && RequestStop(StopReason.Cancelled))
                {
                    _logger.LogInformation("Item {ItemId} was cancelled", Spec.ItemId);
                }
            }
            catch (LiftoffException ex) when (ex.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                _logger.LogWarning("Lost item {ItemId}: {Reason}", Spec.ItemId, ex.Message);
                RequestStop(StopReason.Lost);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                delay = Min(backoff.Next(), _heartbeatInterval());
                _logger.LogWarning("Heartbeat for item {ItemId} failed ({Reason}); retrying in {Delay:0.0} s", Spec.ItemId, ex.Message, delay.TotalSeconds);
            }
        }
    }

    /// <summary>What the workload waits for, as one redacted line the server keeps (it refuses longer ones).</summary>
    private string? WaitingReason()
    {
        if (_workload?.WaitingReason is not { Length: > 0 } reason)
        {
            return null;
        }

        reason = new string([.. Redact(reason).Select(c => char.IsControl(c) ? ' ' : c)]).Trim();
        return reason.Length <= ItemLifecycle.MaxWaitingReasonChars ? reason : reason[..(ItemLifecycle.MaxWaitingReasonChars - 1)] + "…";
    }

    /// <summary>
    /// Stops the workload once it has run for the item's max run time, through the same two-phase stop as a cancel.
    /// The time counts from the watch (the workload started); a re-attached workload carries no spec and no limit.
    /// </summary>
    private ITimer? MaxRunTimer() => Spec.Launch?.MaxRunSeconds is { } seconds
        ? _time.CreateTimer(_ =>
        {
            if (RequestStop(StopReason.TimedOut))
            {
                _logger.LogInformation("Item {ItemId} passed its max run time of {Seconds} s", Spec.ItemId, seconds);
            }
        }, null, TimeSpan.FromSeconds(seconds), Timeout.InfiniteTimeSpan)
        : null;

    /// <summary>The first reason wins; true when this call set it.</summary>
    private bool RequestStop(StopReason reason)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, (int)StopReason.None) != (int)StopReason.None)
        {
            return false;
        }

        _stop.Cancel();
        return true;
    }

    private async Task<T?> TryAsync<T>(Func<Task<T>> call) where T : class
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (!_force.IsCancellationRequested)
        {
            _logger.LogWarning("A call for item {ItemId} failed: {Reason}", Spec.ItemId, ex.Message);
            return null;
        }
    }

    private string Message(string text)
    {
        text = Redact(text);
        return text.Length <= MaxMessageChars ? text : "…" + text[^MaxMessageChars..];
    }

    private string Redact(string text) => Redaction.Apply(text, Spec.Environment, Spec.Secrets);

    /// <summary>The target's own reason (OOMKilled, an eviction) when it gave one, else what the exit code suggests.</summary>
    private static string Describe(WorkloadExit exit) => exit.Reason is { } reason ? ", " + reason : exit.ExitCode switch
    {
        _ when exit.Reason is not null => ", " + exit.Reason,
        137 => ", killed by SIGKILL (out of memory?)",
        143 => ", ended by SIGTERM",
        _ => "",
    };

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("Could not remove the work directory {Directory}: {Reason}", directory, ex.Message);
        }
    }

    /// <summary>The item an execution is about: from a claim (with its whole launch spec) or from a leftover workload.</summary>
    private sealed record Target(
        string ItemId,
        int Attempt,
        string RunId,
        string Queue,
        string Resource,
        string Job,
        IReadOnlyDictionary<string, string> Environment,
        IReadOnlyDictionary<string, string>? Secrets,
        LaunchSpec? Launch,
        LeftoverWorkload? Leftover);
}
