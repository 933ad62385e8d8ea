using System.Buffers;
using System.Security.Cryptography;

namespace Liftoff.Server.Blobs;

/// <summary>
/// Blobs as files under <c>DATA/blobs/sha256/ab/abcdef…</c>. A blob is written to <c>DATA/blobs/tmp</c>, checked,
/// flushed to disk and only then renamed into place, so a blob path never holds partial or unverified content, and no
/// path is ever built from anything but a checked digest.
/// </summary>
internal sealed class FileSystemBlobStore : IBlobStore
{
    private const int BufferSize = 1 << 20;
    private readonly string _blobs;
    private readonly string _temp;

    public FileSystemBlobStore(string root)
    {
        _blobs = Path.Combine(root, "sha256");
        _temp = Path.Combine(root, "tmp");
        Directory.CreateDirectory(_blobs);
        Directory.CreateDirectory(_temp);
    }

    public async Task WriteAsync(string digest, long size, Stream content, CancellationToken cancellationToken)
    {
        var path = PathOf(digest);
        if (File.Exists(path))
        {
            await VerifyAsync(digest, size, content, null, cancellationToken);
            return;
        }

        var temp = Path.Combine(_temp, Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
                Options = FileOptions.Asynchronous,
                PreallocationSize = size,
            }))
            {
                await VerifyAsync(digest, size, content, file, cancellationToken);
                // Durable before it becomes visible: after a crash the name holds all of the content or does not exist.
                file.Flush(flushToDisk: true);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            try
            {
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another upload of the same content won the race; both were checked, so either copy will do.
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken) => Task.FromResult(File.Exists(PathOf(digest)));

    public Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken)
    {
        try
        {
            return Task.FromResult<Stream?>(new FileStream(PathOf(digest), new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read,
                BufferSize = 0,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            }));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    private string PathOf(string digest) => Path.Combine(_blobs, digest[..2], digest);

    /// <summary>Reads exactly <paramref name="size"/> bytes (never more than one buffer past it), hashing and optionally copying them.</summary>
    private static async Task VerifyAsync(string digest, long size, Stream content, Stream? copy, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long total = 0;
            int read;
            while ((read = await content.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken)) > 0)
            {
                total += read;
                if (total > size)
                {
                    throw new BlobMismatchException("size", $"the content is longer than the {size} bytes announced");
                }

                hash.AppendData(buffer, 0, read);
                if (copy is not null)
                {
                    await copy.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

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
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
