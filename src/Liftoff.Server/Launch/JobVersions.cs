using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Liftoff.Core.Jobs;
using Liftoff.Server.Blobs;
using Liftoff.Server.Storage;

namespace Liftoff.Server.Launch;

/// <summary>A stored job version and its definition.</summary>
internal sealed record JobVersion(ArtifactVersionRecord Artifact, JobDefinition Definition)
{
    public string Reference => $"{Artifact.Name}:{ArtifactRefs.Version(Artifact.Version)}";
}

/// <summary>Reads job versions: the artifact of type job and the definition file it holds.</summary>
internal sealed class JobVersions(IArtifactStore artifacts, IBlobStore blobs)
{
    /// <summary>The job version <paramref name="reference"/> (an alias or vK) names, or null when there is none.</summary>
    public async Task<JobVersion?> FindAsync(long entityId, string project, string name, string reference, CancellationToken cancellationToken)
    {
        var version = await artifacts.GetVersionAsync(entityId, project, name, reference, cancellationToken);
        if (version is not { Type: JobDefinitions.ArtifactType, Files: [{ Path: JobDefinitions.FileName } file] })
        {
            return null;
        }

        await using var stream = await blobs.OpenReadAsync(file.Sha256, cancellationToken)
            ?? throw new InvalidOperationException($"the blob {file.Sha256} of job {project}/{name}:v{version.Version} is missing from the blob store");
        var definition = await JsonSerializer.DeserializeAsync(stream, LiftoffJsonContext.Default.JobDefinition, cancellationToken)
            ?? throw new InvalidOperationException($"job {project}/{name}:v{version.Version} holds no definition");
        return new JobVersion(version, definition);
    }
}
