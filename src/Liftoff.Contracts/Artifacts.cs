using System.Text.Json;

namespace Liftoff.Contracts;

/// <summary>One file of an artifact version: a relative '/'-separated path, its size and its SHA-256 (64 lowercase hex digits).</summary>
public sealed record ManifestEntry(string Path, long Size, string Sha256);

/// <summary>Step 1 of an upload: the manifest; the answer names the blobs the server lacks.</summary>
public sealed record BlobCheckRequest(IReadOnlyList<ManifestEntry>? Files);

public sealed record BlobCheckReply(IReadOnlyList<string> Missing);

/// <summary>Step 2a of an upload: how to send each missing blob (at most 1,000 a request).</summary>
public sealed record BlobUploadRequest(IReadOnlyList<BlobUploadEntry>? Blobs);

public sealed record BlobUploadEntry(string Sha256, long Size);

public sealed record BlobUploadReply(IReadOnlyList<BlobUpload> Uploads);

/// <summary>
/// How to send one blob. Without <see cref="Parts"/> it goes to the server (<c>PUT /api/v1/blobs/{sha256}</c>). With
/// them (an S3 store) each part goes straight to the bucket: PUT its <see cref="BlobUploadPart.Size"/> bytes from
/// <see cref="BlobUploadPart.Offset"/> to its presigned <see cref="BlobUploadPart.Url"/> with no other credentials,
/// keep each answer's ETag, then complete with <c>POST /api/v1/blobs/{sha256}/complete</c>.
/// </summary>
public sealed record BlobUpload(string Sha256, long Size, string? Token, string? UploadId, IReadOnlyList<BlobUploadPart> Parts);

public sealed record BlobUploadPart(int Number, long Offset, long Size, string Url);

/// <summary>Step 2b of a direct upload: the server checks the uploaded bytes' size and SHA-256, then keeps the blob.</summary>
public sealed record BlobCompleteRequest(long Size, string? Token, string? UploadId = null, IReadOnlyList<BlobPartTag>? Parts = null);

public sealed record BlobPartTag(int Number, string? Etag);

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
