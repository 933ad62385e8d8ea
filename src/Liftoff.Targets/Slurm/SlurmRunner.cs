namespace Liftoff.Targets.Slurm;

/// <summary>Stands in until the runner branch lands, so the definition builds and registers.</summary>
internal sealed class SlurmRunner : ILaunchRunner
{
    public Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken) =>
        throw new NotSupportedException("the slurm runner is not part of this build yet");
}
