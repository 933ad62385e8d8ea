using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Targets;

namespace Liftoff.Targets.Builders;

/// <summary>Builder <c>noop</c>: runs image jobs' images as they are and refuses to build code and git jobs.</summary>
internal sealed class NoopImageBuilder : IImageBuilder
{
    public Task<JobImage> PrepareAsync(LaunchContext context, bool push, CancellationToken cancellationToken)
    {
        var job = context.Job;
        if (job.SourceType != JobSourceTypes.Image)
        {
            throw new LaunchException(ItemPhases.Build,
                $"this agent's builder is noop, which runs only image jobs; job {context.Spec.Job} is a {job.SourceType} job: set 'builder: {{type: docker}}' in the agent config to build it");
        }

        if (job.Source is not { ValueKind: JsonValueKind.Object } source || !source.TryGetProperty("image", out var image) || image.GetString() is not { Length: > 0 } reference)
        {
            throw new LaunchException(ItemPhases.Pull, $"job {context.Spec.Job} names no image in its source");
        }

        var digest = source.TryGetProperty("digest", out var d) ? d.GetString() : null;
        return Task.FromResult(new JobImage(reference, digest, Built: false));
    }
}
