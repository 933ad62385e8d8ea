using Liftoff.Contracts;

namespace Liftoff.Server.Blobs;

/// <summary>
/// A blob store that clients reach themselves, through presigned URLs, so that file bytes do not pass through the
/// server: it plans each upload, checks what arrived before keeping it under its digest, and hands out read URLs.
/// </summary>
internal interface IDirectBlobStore : IBlobStore
{
    /// <summary>Where and in which parts <paramref name="entityId"/> sends a blob it claims is <paramref name="size"/> bytes hashing to <paramref name="digest"/>.</summary>
    Task<BlobUpload> PlanUploadAsync(long entityId, string digest, long size, CancellationToken cancellationToken);

    /// <summary>
    /// Finishes a planned upload and checks that it is <paramref name="size"/> bytes hashing to <paramref name="digest"/>;
    /// only then is the blob stored under its digest. Throws <see cref="BlobMismatchException"/> (and keeps nothing) otherwise.
    /// </summary>
    Task CompleteUploadAsync(long entityId, string digest, BlobCompleteRequest upload, CancellationToken cancellationToken);

    /// <summary>A URL from which anyone holding it may read the blob for a short while.</summary>
    Task<Uri> DownloadUrlAsync(string digest, CancellationToken cancellationToken);
}
