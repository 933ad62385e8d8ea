using System.Buffers;
using System.Security.Cryptography;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;

namespace Liftoff.Client;

/// <summary>
/// Moves artifact files between a local directory and the server, streaming: no file is ever held in memory whole.
/// Uploads hash every file, ask the server which blobs it lacks and send only those; downloads write each file to a
/// temporary name beside its target, check its digest and rename it into place.
/// </summary>
internal static class ArtifactFiles
{
    private const int BufferSize = 1 << 20;
    private const int Parallelism = 4;
    private const int PlanBatch = 1_000;

    public static async Task<ArtifactVersionInfo> UploadAsync(LiftoffClient client, string path, string project, string name, ArtifactUploadOptions options, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var files = Scan(path);
        if (files.Count == 0)
        {
            throw new LiftoffException($"{path} holds no files to upload");
        }

        var manifest = await HashAsync(files, progress, cancellationToken);
        var missing = (await client.CheckBlobsAsync(manifest, cancellationToken)).Missing.ToHashSet(StringComparer.Ordinal);
        var uploads = files.Zip(manifest).Where(f => missing.Remove(f.Second.Sha256)).ToList();
        var total = uploads.Sum(u => u.Second.Size);
        long sent = 0;
        var done = 0;
        progress?.Report(new TransferProgress("uploading", 0, total, 0, uploads.Count));
        var plans = new Dictionary<string, BlobUpload>(StringComparer.Ordinal);
        foreach (var batch in uploads.Chunk(PlanBatch))
        {
            var reply = await client.PlanBlobUploadsAsync([.. batch.Select(u => new BlobUploadEntry(u.Second.Sha256, u.Second.Size))], cancellationToken);
            foreach (var plan in reply.Uploads)
            {
                plans[plan.Sha256] = plan;
            }
        }

        void Sent(int read) => progress?.Report(new TransferProgress("uploading", Interlocked.Add(ref sent, read), total, Volatile.Read(ref done), uploads.Count));
        await Parallel.ForEachAsync(uploads, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (upload, ct) =>
        {
            var (file, entry) = upload;
            try
            {
                if (plans[entry.Sha256] is { Parts.Count: > 0 } plan)
                {
                    await PutDirectAsync(client, file, entry, plan, Sent, ct);
                }
                else
                {
                    await using var stream = OpenRead(file.FullPath);
                    await using var counting = new CountingStream(stream, Sent);
                    await client.PutBlobAsync(entry.Sha256, counting, entry.Size, ct);
                }
            }
            catch (LiftoffException ex) when (ex.StatusCode is System.Net.HttpStatusCode.BadRequest)
            {
                throw new LiftoffException($"{file.FullPath} changed while it was being uploaded ({ex.Message}); upload again", ex);
            }

            progress?.Report(new TransferProgress("uploading", Volatile.Read(ref sent), total, Interlocked.Increment(ref done), uploads.Count));
        });

        return await client.CommitArtifactAsync(project, name, new CommitArtifactRequest(options.Type, manifest, options.Aliases, options.RunId, options.Metadata), cancellationToken);
    }

    /// <summary>Sends a file's parts to their presigned URLs (several at once), then asks the server to check and keep it.</summary>
    private static async Task PutDirectAsync(LiftoffClient client, LocalFile file, ManifestEntry entry, BlobUpload plan, Action<int> sent, CancellationToken cancellationToken)
    {
        var tags = new BlobPartTag[plan.Parts.Count];
        await Parallel.ForEachAsync(plan.Parts, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (part, ct) =>
        {
            await using var stream = OpenRead(file.FullPath);
            stream.Seek(part.Offset, SeekOrigin.Begin);
            await using var counting = new CountingStream(new PartStream(stream, part.Size), sent);
            tags[part.Number - 1] = new BlobPartTag(part.Number, await client.PutBlobPartAsync(part, counting, ct));
        });
        await client.CompleteBlobUploadAsync(entry.Sha256, new BlobCompleteRequest(entry.Size, plan.Token, plan.UploadId, plan.UploadId is null ? null : tags), cancellationToken);
    }

    public static async Task<string> DownloadAsync(LiftoffClient client, ArtifactVersionInfo version, string directory, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var files = version.Files ?? throw new ArgumentException("the version carries no file list; get it with GetArtifactVersionAsync", nameof(version));
        var root = Path.GetFullPath(directory);
        var targets = files.Select(f => (Entry: f, Target: TargetPath(root, f.Path))).ToList();
        Directory.CreateDirectory(root);
        var total = files.Sum(f => f.Size);
        long received = 0;
        var done = 0;
        progress?.Report(new TransferProgress("downloading", 0, total, 0, files.Count));
        await Parallel.ForEachAsync(targets, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (file, ct) =>
        {
            if (await IsPresentAsync(file.Target, file.Entry, ct))
            {
                progress?.Report(new TransferProgress("downloading", Interlocked.Add(ref received, file.Entry.Size), total, Interlocked.Increment(ref done), files.Count));
                return;
            }

            EnsureParentInside(root, file.Target);
            var temp = Path.Combine(Path.GetDirectoryName(file.Target)!, $".liftoff-{Guid.NewGuid():N}.tmp");
            try
            {
                await using (var source = await client.OpenBlobAsync(file.Entry.Sha256, ct))
                await using (var target = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0, Options = FileOptions.Asynchronous, PreallocationSize = file.Entry.Size }))
                {
                    var digest = await CopyHashingAsync(source, target, read => progress?.Report(new TransferProgress("downloading", Interlocked.Add(ref received, read), total, Volatile.Read(ref done), files.Count)), ct);
                    if (digest != file.Entry.Sha256 || target.Length != file.Entry.Size)
                    {
                        throw new LiftoffException($"{file.Entry.Path} arrived corrupted (sha256 {digest}, expected {file.Entry.Sha256}); download again");
                    }
                }

                File.Move(temp, file.Target, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }

            progress?.Report(new TransferProgress("downloading", Volatile.Read(ref received), total, Interlocked.Increment(ref done), files.Count));
        });

        return root;
    }

    /// <summary>The files to upload, by artifact path. A symbolic link is uploaded as the file it names when that file lies inside the root; anything else is refused.</summary>
    internal static IReadOnlyList<LocalFile> Scan(string path)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            var single = new FileInfo(full);
            var target = single.LinkTarget is null ? single : single.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
            if (target is null || !target.Exists)
            {
                throw new LiftoffException($"{path} is a symbolic link to nothing");
            }

            return [new LocalFile(CheckedPath(single.Name, path), target.FullName)];
        }

        if (!Directory.Exists(full))
        {
            throw new LiftoffException($"{path} does not exist");
        }

        var root = RealPath(full);
        var files = new List<LocalFile>();
        var pending = new Stack<(DirectoryInfo Directory, string Prefix)>();
        pending.Push((new DirectoryInfo(root), ""));
        while (pending.TryPop(out var current))
        {
            foreach (var entry in current.Directory.EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, ReturnSpecialDirectories = false }))
            {
                var relative = current.Prefix + entry.Name;
                if (entry.LinkTarget is not null)
                {
                    var target = entry.ResolveLinkTarget(returnFinalTarget: true);
                    if (target is null || !target.Exists)
                    {
                        throw new LiftoffException($"'{relative}' is a symbolic link to nothing ({entry.LinkTarget}); remove it or point it at a file");
                    }

                    var resolved = RealPath(target.FullName);
                    if (!IsInside(root, resolved))
                    {
                        throw new LiftoffException($"'{relative}' is a symbolic link to {resolved}, outside {root}; refusing to upload files from outside the directory");
                    }

                    if (target is DirectoryInfo)
                    {
                        throw new LiftoffException($"'{relative}' is a symbolic link to a directory; links to directories are not followed: copy the files or remove the link");
                    }

                    files.Add(new LocalFile(CheckedPath(relative, relative), resolved));
                }
                else if (entry is DirectoryInfo directory)
                {
                    pending.Push((directory, relative + "/"));
                }
                else
                {
                    files.Add(new LocalFile(CheckedPath(relative, relative), entry.FullName));
                }
            }
        }

        files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return files;
    }

    /// <summary>Where an artifact path lands under <paramref name="root"/>; refuses a path a malicious server could use to escape it.</summary>
    internal static string TargetPath(string root, string path)
    {
        if (ArtifactPaths.Problem(path) is { } problem)
        {
            throw new LiftoffException($"the server sent an unsafe file path '{path}': {problem}; nothing was written for it");
        }

        var target = Path.GetFullPath(Path.Combine(root, path));
        return IsInside(root, target) ? target : throw new LiftoffException($"the file path '{path}' leads outside {root}; nothing was written for it");
    }

    /// <summary>Refuses to write through a symbolic link already in the download directory that leads elsewhere.</summary>
    private static void EnsureParentInside(string root, string target)
    {
        var parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        var (realRoot, realParent) = (RealPath(root), RealPath(parent));
        if (realParent != realRoot && !IsInside(realRoot, realParent))
        {
            throw new LiftoffException($"{parent} leads outside {root} through a symbolic link; nothing was written there");
        }
    }

    private static string CheckedPath(string relative, string shown) =>
        ArtifactPaths.Problem(relative) is { } problem ? throw new LiftoffException($"cannot upload '{shown}': {problem}") : relative;

    private static bool IsInside(string root, string path) =>
        path.StartsWith(Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link on the way resolved.</summary>
    private static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var parent = Path.GetDirectoryName(full);
        var resolvedParent = parent is null ? null : RealPath(parent);
        var here = resolvedParent is null ? full : Path.Combine(resolvedParent, Path.GetFileName(full));
        FileSystemInfo info = Directory.Exists(here) ? new DirectoryInfo(here) : new FileInfo(here);
        return info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target ? RealPath(target.FullName) : here;
    }

    private static async Task<IReadOnlyList<ManifestEntry>> HashAsync(IReadOnlyList<LocalFile> files, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var manifest = new ManifestEntry[files.Count];
        long hashed = 0;
        var done = 0;
        var total = files.Sum(f => new FileInfo(f.FullPath).Length);
        await Parallel.ForEachAsync(Enumerable.Range(0, files.Count), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            await using var stream = OpenRead(files[i].FullPath);
            var digest = await CopyHashingAsync(stream, null, read => progress?.Report(new TransferProgress("hashing", Interlocked.Add(ref hashed, read), total, Volatile.Read(ref done), files.Count)), ct);
            manifest[i] = new ManifestEntry(files[i].Path, stream.Length, digest);
            progress?.Report(new TransferProgress("hashing", Volatile.Read(ref hashed), total, Interlocked.Increment(ref done), files.Count));
        });
        return manifest;
    }

    private static async Task<bool> IsPresentAsync(string target, ManifestEntry entry, CancellationToken cancellationToken)
    {
        var existing = new FileInfo(target);
        if (!existing.Exists || existing.LinkTarget is not null || existing.Length != entry.Size)
        {
            return false;
        }

        await using var stream = OpenRead(target);
        return await CopyHashingAsync(stream, null, null, cancellationToken) == entry.Sha256;
    }

    /// <summary>
    /// Hashes <paramref name="source"/> (copying it to <paramref name="target"/>): whole buffers, and the write of one
    /// buffer overlaps the read and hashing of the next, so that disk and network work at once.
    /// </summary>
    private static async Task<string> CopyHashingAsync(Stream source, Stream? target, Action<int>? onRead, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[][] buffers = [ArrayPool<byte>.Shared.Rent(BufferSize), ArrayPool<byte>.Shared.Rent(BufferSize)];
        var writing = Task.CompletedTask;
        try
        {
            for (var current = 0; ; current ^= 1)
            {
                var read = await source.ReadAtLeastAsync(buffers[current].AsMemory(0, BufferSize), BufferSize, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                await writing;
                if (target is not null)
                {
                    writing = target.WriteAsync(buffers[current].AsMemory(0, read), cancellationToken).AsTask();
                }

                hash.AppendData(buffers[current], 0, read);
                onRead?.Invoke(read);
            }

            await writing;
        }
        finally
        {
            await writing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ArrayPool<byte>.Shared.Return(buffers[0]);
            ArrayPool<byte>.Shared.Return(buffers[1]);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static FileStream OpenRead(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.Read,
        BufferSize = 0,
        Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
    });

    internal sealed record LocalFile(string Path, string FullPath);

    /// <summary>The next <c>length</c> bytes of a stream: one part of a file.</summary>
    private sealed class PartStream(Stream inner, long length) : Stream
    {
        private readonly long _length = length;
        private long _left = length;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _length;

        public override long Position { get => _length - _left; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Took(inner.Read(buffer, offset, (int)Math.Min(count, _left)));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Took(await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Took(int read)
        {
            _left -= read;
            return read;
        }
    }

    /// <summary>Reports each read, for upload progress.</summary>
    private sealed class CountingStream(Stream inner, Action<int> onRead) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Counted(await inner.ReadAsync(buffer, cancellationToken));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Counted(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Counted(int read)
        {
            if (read > 0)
            {
                onRead(read);
            }

            return read;
        }
    }
}
