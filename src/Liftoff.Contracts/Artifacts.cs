using System.Text.Json;

namespace Liftoff.Contracts;

/// <summary>One file of an artifact version: a relative '/'-separated path, its size and its SHA-256 (64 lowercase hex digits).</summary>
public sealed record ManifestEntry(string Path, long Size, string Sha256);

/// <summary>Step 1 of an upload: the manifest; the answer names the blobs the server lacks.</summary>
public sealed record BlobCheckRequest(IReadOnlyList<ManifestEntry>? Files);

public sealed record BlobCheckReply(IReadOnlyList<string> Missing);

/// <summary>Step 3 of an upload: the version, once every blob is on the server.</summary>
public sealed record CommitArtifactRequest(
    string? Type,
    IReadOnlyList<ManifestEntry>? Files,
    IReadOnlyList<string>? Aliases = null,
    string? RunId = null,
    JsonElement? Metadata = null);

/// <summary>A version of an artifact. <see cref="Created"/> is false when the content equalled an existing version, which is returned.</summary>
public sealed record ArtifactVersionInfo(
    string Entity,
    string Project,
    string Name,
    string Type,
    string Version,
    string Digest,
    long Size,
    int FileCount,
    IReadOnlyList<string> Aliases,
    JsonElement Metadata,
    string? ProducedBy,
    DateTimeOffset CreatedAt,
    bool Created = false,
    IReadOnlyList<ManifestEntry>? Files = null);

public sealed record ArtifactInfo(string Entity, string Project, string Name, string Type, int VersionCount, string? Latest, DateTimeOffset CreatedAt);

public sealed record ArtifactList(IReadOnlyList<ArtifactInfo> Artifacts);

public sealed record ArtifactVersionList(IReadOnlyList<ArtifactVersionInfo> Versions);

public sealed record SetAliasRequest(string? Version);

/// <summary>A run declares it read an artifact version: <c>name:alias</c> or <c>name:vK</c>, in the run's project unless given.</summary>
public sealed record UseArtifactRequest(string? Artifact, string? Project = null);

public sealed record RunArtifacts(IReadOnlyList<ArtifactVersionInfo> Used, IReadOnlyList<ArtifactVersionInfo> Produced);
