using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Targets;

/// <summary>
/// One target resource (local-process, docker, kubernetes, sagemaker, vertex, slurm): turns a claimed item's launch spec into a
/// workload. Chosen by the queue's resource name through keyed registration, so a new target is one folder and one line
/// (<see cref="AgentRegistration"/>).
/// </summary>
internal interface ILaunchRunner
{
    /// <summary>
    /// Prepares the workload (fetch code, build or pull) and starts (or submits) it; returns once it has started.
    /// Throws <see cref="LaunchException"/> naming the phase that failed. Cancelling abandons the preparation.
    /// </summary>
    Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken);
}

/// <summary>A started workload: a local process group, a container, a cluster job.</summary>
internal interface ILaunchedWorkload : IAsyncDisposable
{
    /// <summary>Watches the workload until it ends. Console output goes to the context's <see cref="RunConsole"/> meanwhile.</summary>
    Task<WorkloadExit> WaitForExitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Why the workload is not running yet, as its target last said while <see cref="WaitForExitAsync"/> watched it (a
    /// Slurm job's pending reason, a pending pod's); null when it runs, or the target gives no reasons. The agent
    /// reports it with each heartbeat, and the item shows it (<c>waiting_reason</c>).
    /// </summary>
    string? WaitingReason => null;

    /// <summary>
    /// Stops the workload and everything it started: a polite stop first, the forced one after <paramref name="grace"/>
    /// (zero: forced at once). Returns once it is gone.
    /// </summary>
    Task StopAsync(TimeSpan grace, CancellationToken cancellationToken);
}

/// <summary>
/// How a workload ended: its exit code (128 + N when a signal N ended a process) and, when known, why. A workload the
/// target never got to run (an image it could not pull, a pod it could not schedule) names the <see cref="Phase"/>
/// (one of <see cref="ItemPhases"/>) that stopped it, so the item fails there rather than in <c>run</c>.
/// <see cref="FailureClass"/> is the target's word on whose failure a non-zero exit was (one of <see cref="FailureClasses"/>):
/// unset, a run that exited non-zero is the job's (<c>user</c>), a workload the target never ran a <c>config</c> refusal.
/// </summary>
internal sealed record WorkloadExit(int ExitCode, string? Reason = null, string? Phase = null, string? FailureClass = null);

/// <summary>What a runner gets for one item.</summary>
internal sealed record LaunchContext(
    LaunchSpec Spec,
    JobDefinition Job,
    RunConsole Console,
    LiftoffClient Client,
    string WorkDirectory);

/// <summary>
/// The workload could not be prepared or started; <see cref="Phase"/> is one of <see cref="ItemPhases"/>. The
/// <see cref="FailureClass"/> says whose failure it was: <c>config</c> (the target refused what it was given) unless
/// the runner knows it passing (<c>infrastructure</c>: a registry or cloud that answered 5xx or throttled).
/// </summary>
internal sealed class LaunchException(string phase, string message, Exception? innerException = null, string failureClass = FailureClasses.Config) : Exception(message, innerException)
{
    public string Phase { get; } = phase;

    public string FailureClass { get; } = failureClass;
}

/// <summary>
/// A runner whose workloads outlive the agent (containers, cluster jobs, cloud training jobs). Each workload carries
/// labels naming its item, attempt, run, queue and agent, so a restarted agent finds the ones it left behind: it
/// re-attaches to those whose attempt still holds its item (the lease had not run out) and removes the others.
/// </summary>
internal interface IReattachableRunner
{
    /// <summary>The workloads of this target labelled with <paramref name="agentName"/>, running or ended but not yet removed.</summary>
    Task<IReadOnlyList<LeftoverWorkload>> FindLeftoversAsync(string agentName, CancellationToken cancellationToken);

    /// <summary>Watches a leftover again; its console output from now on goes to <paramref name="console"/>.</summary>
    Task<ILaunchedWorkload> AttachAsync(LeftoverWorkload leftover, RunConsole console, CancellationToken cancellationToken);

    /// <summary>Stops a leftover at once and removes it and everything made for it (another attempt owns its item).</summary>
    Task RemoveAsync(LeftoverWorkload leftover, CancellationToken cancellationToken);
}

/// <summary>
/// A workload found by its labels. <see cref="Handle"/> is the runner's own reference (a container id, a Job name);
/// <see cref="Environment"/> holds what the target kept of the launch environment, used only to redact secrets from
/// reports (empty when the target does not keep it).
/// </summary>
internal sealed record LeftoverWorkload(
    string ItemId,
    int Attempt,
    string RunId,
    string Queue,
    string Resource,
    string Handle,
    IReadOnlyDictionary<string, string> Environment);
