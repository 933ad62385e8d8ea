namespace Liftoff.Server.Storage;

/// <summary>
/// Artifacts: collections (name + type, per project), their versions v0, v1, … with manifests, aliases, which runs
/// used or produced which versions, and which blobs each entity has proven it holds. Every call is scoped to the
/// caller's entity.
/// </summary>
internal interface IArtifactStore
{
    /// <summary>Records that the entity uploaded (and so holds) the blob. Idempotent.</summary>
    Task AddBlobAsync(long entityId, string digest, long size, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The sizes of those of <paramref name="digests"/> that the entity holds; the others are missing for it.</summary>
    Task<IReadOnlyDictionary<string, long>> FindBlobsAsync(long entityId, IReadOnlyCollection<string> digests, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a version, creating the project and the collection on first use. A version whose digest equals an
    /// existing version of the collection is that version: nothing new is stored, and the aliases move to it.
    /// <c>latest</c> always names the highest version. Throws <see cref="StoreValidationException"/> when a file's blob
    /// is not the entity's or its size differs, when the collection has another type, or when the run is not the entity's.
    /// </summary>
    Task<ArtifactCommit> CommitVersionAsync(long entityId, NewArtifactVersion version, CancellationToken cancellationToken);

    /// <summary>A version by <c>vK</c> or alias, with its files; null when there is none.</summary>
    Task<ArtifactVersionRecord?> GetVersionAsync(long entityId, string project, string name, string reference, CancellationToken cancellationToken);

    Task<IReadOnlyList<ArtifactCollectionRecord>> ListCollectionsAsync(long entityId, string? project, string? type, CancellationToken cancellationToken);

    /// <summary>The versions of a collection, newest first, without files; null when there is no such collection.</summary>
    Task<IReadOnlyList<ArtifactVersionRecord>?> ListVersionsAsync(long entityId, string project, string name, CancellationToken cancellationToken);

    /// <summary>
    /// Points an alias at a version (moving it from any other); null when the version does not exist. Aliasing
    /// 'latest' pins it to that version until a new version is committed.
    /// </summary>
    Task<ArtifactVersionRecord?> SetAliasAsync(long entityId, string project, string name, string alias, int version, CancellationToken cancellationToken);

    /// <summary>Records that the run used the version; null when the run or the version is not the entity's.</summary>
    Task<ArtifactVersionRecord?> RecordUseAsync(long entityId, string runId, string project, string name, string reference, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The versions a run used and produced; null when the run is not the entity's.</summary>
    Task<RunArtifactRecords?> ListRunArtifactsAsync(long entityId, string runId, CancellationToken cancellationToken);

    /// <summary>Whether a file of a version the run used or created has the content <paramref name="digest"/>.</summary>
    Task<bool> RunReferencesBlobAsync(long entityId, string runId, string digest, CancellationToken cancellationToken);
}

internal sealed record NewArtifactVersion(
    string Project,
    string Name,
    string Type,
    string Digest,
    IReadOnlyList<Contracts.ManifestEntry> Files,
    IReadOnlyList<string> Aliases,
    string MetadataJson,
    string? RunId,
    DateTimeOffset CreatedAt,
    // A run's key commits: aliases may land only on a version the run produced, not on an older one of the same files.
    bool AliasOwnVersionOnly = false);

internal sealed record ArtifactVersionRecord(
    string Entity,
    string Project,
    string Name,
    string Type,
    int Version,
    string Digest,
    long Size,
    int FileCount,
    IReadOnlyList<string> Aliases,
    string MetadataJson,
    string? ProducedBy,
    DateTimeOffset CreatedAt,
    IReadOnlyList<Contracts.ManifestEntry>? Files);

internal sealed record ArtifactCommit(ArtifactVersionRecord Version, bool Created);

internal sealed record ArtifactCollectionRecord(string Entity, string Project, string Name, string Type, int VersionCount, int? Latest, DateTimeOffset CreatedAt);

internal sealed record RunArtifactRecords(IReadOnlyList<ArtifactVersionRecord> Used, IReadOnlyList<ArtifactVersionRecord> Produced);
