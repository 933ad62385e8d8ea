using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Agent.Runners;

/// <summary>
/// One target resource (local-process, docker, kubernetes, sagemaker, vertex): turns a claimed item's launch spec into a
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
    /// Stops the workload and everything it started: a polite stop first, the forced one after <paramref name="grace"/>
    /// (zero: forced at once). Returns once it is gone.
    /// </summary>
    Task StopAsync(TimeSpan grace, CancellationToken cancellationToken);
}

/// <summary>How a workload ended: its exit code (128 + N when a signal N ended a process) and, when known, why.</summary>
internal sealed record WorkloadExit(int ExitCode, string? Reason = null);

/// <summary>What a runner gets for one item.</summary>
internal sealed record LaunchContext(
    LaunchSpec Spec,
    JobDefinition Job,
    RunConsole Console,
    LiftoffClient Client,
    string WorkDirectory);

/// <summary>The workload could not be prepared or started; <see cref="Phase"/> is one of <see cref="ItemPhases"/>.</summary>
internal sealed class LaunchException(string phase, string message, Exception? innerException = null) : Exception(message, innerException)
{
    public string Phase { get; } = phase;
}
