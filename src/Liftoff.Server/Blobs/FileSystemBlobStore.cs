using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Liftoff.Server.Blobs;

/// <summary>
/// Blobs as files under <c>DATA/blobs/sha256/ab/abcdef…</c>. A blob is written to <c>DATA/blobs/tmp</c>, checked,
/// flushed to disk and only then renamed into place, so a blob path never holds partial or unverified content, and no
/// path is ever built from anything but a checked digest.
/// </summary>
internal sealed class FileSystemBlobStore : IBlobStore
{
    private const int BufferSize = 4 << 20;
    private const long WritebackChunk = 32L << 20;
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

    /// <summary>The file holding the blob, or null: downloads send it with range support and without copying it through a stream.</summary>
    public string? FileOf(string digest) => PathOf(digest) is var path && File.Exists(path) ? path : null;

    private string PathOf(string digest) => Path.Combine(_blobs, digest[..2], digest);

    /// <summary>
    /// Reads exactly <paramref name="size"/> bytes (never more than one buffer past it), hashing and optionally copying
    /// them. Reads fill whole buffers, and the write of one buffer overlaps the hashing of it and the read of the next.
    /// </summary>
    private static async Task VerifyAsync(string digest, long size, Stream content, FileStream? copy, CancellationToken cancellationToken)
    {
        byte[][] buffers = [ArrayPool<byte>.Shared.Rent(BufferSize), ArrayPool<byte>.Shared.Rent(BufferSize)];
        var writing = Task.CompletedTask;
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long total = 0;
            for (var current = 0; ; current ^= 1)
            {
                var read = await content.ReadAtLeastAsync(buffers[current].AsMemory(0, BufferSize), BufferSize, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                total += read;
                if (total > size)
                {
                    throw new BlobMismatchException("size", $"the content is longer than the {size} bytes announced");
                }

                await writing;
                if (copy is not null)
                {
                    writing = WriteAsync(copy, buffers[current].AsMemory(0, read), cancellationToken);
                }

                hash.AppendData(buffers[current], 0, read);
            }

            await writing;
            BlobMismatchException.ThrowIfDiffers(total, size, hash, digest);
        }
        finally
        {
            await writing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ArrayPool<byte>.Shared.Return(buffers[0]);
            ArrayPool<byte>.Shared.Return(buffers[1]);
        }
    }

    /// <summary>
    /// Writes at the file's end and, every <see cref="WritebackChunk"/>, asks Linux to start writing that stretch to
    /// disk without waiting for it: the disk then works while the rest arrives, and the one fsync at the end has
    /// little left to do. Elsewhere, or where the call is refused, the fsync does it all.
    /// </summary>
    private static async Task WriteAsync(FileStream file, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var start = file.Position;
        await file.WriteAsync(data, cancellationToken);
        var end = file.Position;
        if (OperatingSystem.IsLinux() && end / WritebackChunk > start / WritebackChunk)
        {
            var from = (end / WritebackChunk - 1) * WritebackChunk;
            _ = NativeMethods.sync_file_range((int)file.SafeFileHandle.DangerousGetHandle(), from, WritebackChunk, NativeMethods.SyncFileRangeWrite);
        }
    }

    private static class NativeMethods
    {
        /// <summary>SYNC_FILE_RANGE_WRITE: start writeback of dirty pages in the range, without waiting for it.</summary>
        public const uint SyncFileRangeWrite = 2;

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int sync_file_range(int fd, long offset, long nbytes, uint flags);
    }
}
