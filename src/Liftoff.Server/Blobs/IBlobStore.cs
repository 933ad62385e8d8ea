using System.Security.Cryptography;

namespace Liftoff.Server.Blobs;

/// <summary>
/// Content-addressed file contents, named by their SHA-256. The local filesystem store is the default; an
/// S3-compatible store implements the same three calls. Digests given to these methods are already checked to be
/// 64 lowercase hex digits.
/// </summary>
internal interface IBlobStore
{
    /// <summary>
    /// Streams <paramref name="content"/> into the store, checking as it goes that it is exactly <paramref name="size"/>
    /// bytes hashing to <paramref name="digest"/>. On a mismatch it throws <see cref="BlobMismatchException"/> and keeps
    /// nothing. Content equal to a stored blob is read and checked all the same (it proves the caller holds it), then dropped.
    /// </summary>
    Task WriteAsync(string digest, long size, Stream content, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken);

    /// <summary>The blob's bytes, or null when the store does not hold it.</summary>
    Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken);
}

/// <summary>Uploaded content that is not what the client said it was (HTTP 400 naming <see cref="Field"/>).</summary>
internal sealed class BlobMismatchException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;

    /// <summary>Throws when the content read (<paramref name="total"/> bytes hashed into <paramref name="hash"/>) is not the blob announced.</summary>
    public static void ThrowIfDiffers(long total, long size, IncrementalHash hash, string digest)
    {
        if (total != size)
        {
            throw new BlobMismatchException("size", $"the content is {total} bytes, not the {size} announced");
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, digest, StringComparison.Ordinal))
        {
            throw new BlobMismatchException("sha256", $"the content hashes to {actual}, not {digest}");
        }
    }
}
