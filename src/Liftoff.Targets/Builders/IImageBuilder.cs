using Liftoff.Targets;

namespace Liftoff.Targets.Builders;

/// <summary>
/// Makes the container image a launch runs in, for the targets that run images (docker, kubernetes, sagemaker,
/// vertex). Image jobs name their image; code and git jobs are built (builder <c>docker</c>) with a tag that hashes every
/// build input, and pushed to the agent's registry when the target pulls from one. The agent config's <c>builder</c>
/// section picks the implementation; <c>noop</c> accepts only image jobs.
/// </summary>
internal interface IImageBuilder
{
    /// <summary>
    /// The image to run for <paramref name="context"/>'s job; with <paramref name="push"/>, one a remote target can pull.
    /// Throws <see cref="LaunchException"/> in phase <c>build</c> (with the builder's last error lines) or <c>pull</c>.
    /// </summary>
    Task<JobImage> PrepareAsync(LaunchContext context, bool push, CancellationToken cancellationToken);
}

/// <summary>An image reference to run, its digest when known, and whether this call built it.</summary>
internal sealed record JobImage(string Reference, string? Digest, bool Built);
