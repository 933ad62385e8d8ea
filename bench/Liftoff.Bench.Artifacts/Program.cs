using System.Diagnostics;
using System.Globalization;
using Liftoff.Client;
using Liftoff.Server.Hosting;
using Liftoff.Testing;
using Microsoft.Extensions.Logging;

// Artifact throughput: one large file and many small files, uploaded to and downloaded from a real server on
// 127.0.0.1 whose data directory is on the same disk, each compared with a plain copy of the same files.
// The same on a server whose blobs are in s3rver (a real S3-compatible server from npm, installed by scripts/setup/npm-packages.sh),
// where the client sends and fetches file bytes straight to and from the bucket through presigned URLs.
// Usage: dotnet run -c Release --project bench/Liftoff.Bench.Artifacts [-- --large-mib 1024 --small-files 10000 --small-bytes 4096 --no-s3]
var largeMiB = Argument("--large-mib", 1024);
var smallFiles = Argument("--small-files", 10_000);
var smallBytes = Argument("--small-bytes", 4096);
var stores = Array.IndexOf(args, "--no-s3") >= 0 ? ["filesystem"] : new[] { "filesystem", "s3rver" };
var work = Directory.CreateTempSubdirectory("liftoff-bench-").FullName;
try
{
    var large = Directory.CreateDirectory(Path.Combine(work, "large")).FullName;
    Generate(Path.Combine(large, "data.bin"), largeMiB * (1L << 20), seed: 1);
    var small = Directory.CreateDirectory(Path.Combine(work, "small")).FullName;
    for (var i = 0; i < smallFiles; i++)
    {
        Generate(Path.Combine(small, $"d{i % 100:000}", $"f{i:00000}.bin"), smallBytes, seed: i + 2);
    }

    var cases = new[] { ($"1 file of {largeMiB} MiB", large), ($"{smallFiles} files of {smallBytes} B", small) };
    var copies = new Dictionary<string, (double Plain, double Durable)>();
    Settle();
    Console.WriteLine($"{"case",-44} {"MB",8} {"seconds",8} {"MB/s",8} {"x copy",7} {"cpu s",8}");
    foreach (var (name, directory) in cases)
    {
        var megabytes = Megabytes(directory);
        var copy = Time(() => CopyTree(directory, Path.Combine(work, "copy-" + Path.GetFileName(directory)), (from, to) => PlainCopy(from, to, flushToDisk: false)));
        Report($"{name}: plain copy", megabytes, copy, copy);
        var durableCopy = Time(() => CopyTree(directory, Path.Combine(work, "durable-" + Path.GetFileName(directory)), (from, to) => PlainCopy(from, to, flushToDisk: true)));
        Report($"{name}: copy + fsync", megabytes, durableCopy, copy);
        // In this VM, page cache grown into guest memory never touched before costs ~2 s of system time per GiB, and
        // reusing pages just freed costs ~0.2 s: dropping the copies lets the uploads write on the same terms as the copies.
        Directory.Delete(Path.Combine(work, "copy-" + Path.GetFileName(directory)), recursive: true);
        Directory.Delete(Path.Combine(work, "durable-" + Path.GetFileName(directory)), recursive: true);
        copies[name] = (copy, durableCopy);
    }

    foreach (var store in stores)
    {
        // s3rver is node.js writing each object to a file in its own directory on the same disk (no fsync).
        await using var s3 = store == "s3rver" ? await S3rver.StartAsync() : null;
        await using var server = await LiftoffServer.StartAsync(
            new ServerOptions
            {
                DataDirectory = Path.Combine(work, "server-" + store), Port = 0, Blobs = s3?.BlobsLocation,
                S3AccessKeyId = s3 is null ? null : S3rver.AccessKeyId, S3SecretAccessKey = s3 is null ? null : S3rver.SecretAccessKey,
            },
            logging => logging.AddFilter(_ => false));
        var counting = new CountingHandler(s3?.Endpoint.Authority);
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, server.InitialAdminKey!), counting);
        await WarmUpAsync(client, work, store);
        foreach (var (name, directory) in cases)
        {
            var megabytes = Megabytes(directory);
            var (copy, durableCopy) = copies[name];
            var artifact = Path.GetFileName(directory);
            // Bytes that an upload hashes must pass through user space; File.Copy's copy_file_range never brings them
            // there. This copy does what the upload must at least do. It runs twice, the first untimed, and each output is
            // deleted at once: the timed copy and the upload then both write into page-cache memory just freed.
            var buffer = new byte[4 << 20];
            CopyTree(directory, Path.Combine(work, "rw-" + artifact), (from, to) => ReadWriteCopy(from, to, buffer));
            Directory.Delete(Path.Combine(work, "rw-" + artifact), recursive: true);
            var readWriteCopy = Time(() => CopyTree(directory, Path.Combine(work, "rw-" + artifact), (from, to) => ReadWriteCopy(from, to, buffer)));
            Report($"{name}: read/write copy (4 MiB buffer)", megabytes, readWriteCopy, copy);
            Directory.Delete(Path.Combine(work, "rw-" + artifact), recursive: true);
            var watch = Stopwatch.StartNew();
            var (hashed, sent) = (TimeSpan.Zero, TimeSpan.Zero);
            var phases = new Progress(report =>
            {
                hashed = report.Phase == "hashing" ? watch.Elapsed : hashed;
                sent = report.Phase == "uploading" && report.BytesDone == report.BytesTotal && sent == TimeSpan.Zero ? watch.Elapsed : sent;
            });
            var upload = await TimeAsync(() => client.UploadArtifactAsync(directory, "bench", artifact, new ArtifactUploadOptions("dataset"), phases));
            Report($"{store}, {name}: upload", megabytes, upload, copy);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  hashing on the client until {hashed.TotalSeconds:0.00} s, last file byte sent at {sent.TotalSeconds:0.00} s; vs copy + fsync {durableCopy / upload:0.00}x; vs read/write copy {readWriteCopy / upload:0.00}x"));
            var version = await client.GetArtifactVersionAsync("bench", artifact, "latest");
            var download = await TimeAsync(() => client.DownloadArtifactAsync(version, Path.Combine(work, $"down-{store}-{artifact}")));
            Report($"{store}, {name}: download", megabytes, download, copy);
            Directory.Delete(Path.Combine(work, $"down-{store}-{artifact}"), recursive: true);
            var (puts, bytes) = (counting.BlobPuts, counting.BlobBytes);
            var again = await TimeAsync(() => client.UploadArtifactAsync(directory, "bench", artifact, new ArtifactUploadOptions("dataset")));
            Console.WriteLine($"{store}, {name}: re-upload unchanged: {again:0.00} s, blob uploads {counting.BlobPuts - puts}, file bytes sent {counting.BlobBytes - bytes}");
        }
    }
}
finally
{
    Directory.Delete(work, recursive: true);
}

// One small upload and download before timing, so that compiling the code paths is not counted: a server runs for days.
static async Task WarmUpAsync(LiftoffClient client, string work, string store)
{
    var directory = Directory.CreateDirectory(Path.Combine(work, "warm-up-" + store)).FullName;
    Generate(Path.Combine(directory, "warm.bin"), 8 << 20, seed: 0);
    await client.UploadArtifactAsync(directory, "bench", "warm-up", new ArtifactUploadOptions("dataset"));
    await client.DownloadArtifactAsync(await client.GetArtifactVersionAsync("bench", "warm-up", "latest"), Path.Combine(work, "warm-down-" + store));
}

static double Megabytes(string directory) => Directory.GetFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) / 1e6;

// CPU seconds (user + system, client and server together: they share this process) say what a case costs even when
// other work on the machine stretches its wall time.
static void Report(string name, double megabytes, double seconds, double copySeconds) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-44} {megabytes,8:0} {seconds,8:0.00} {megabytes / seconds,8:0} {copySeconds / seconds,7:0.00} {Cpu.Last,8:0.00}"));

static double Time(Action action)
{
    var (watch, cpu) = (Stopwatch.StartNew(), Cpu.Now());
    action();
    var seconds = watch.Elapsed.TotalSeconds;
    Cpu.Last = Cpu.Now() - cpu;
    Settle();
    return seconds;
}

static async Task<double> TimeAsync<T>(Func<Task<T>> action)
{
    var (watch, cpu) = (Stopwatch.StartNew(), Cpu.Now());
    await action();
    var seconds = watch.Elapsed.TotalSeconds;
    Cpu.Last = Cpu.Now() - cpu;
    Settle();
    return seconds;
}

// Between measurements, write back every dirty page (untimed), so that no case pays for the previous one's writes.
static void Settle()
{
    using var sync = Process.Start("sync");
    sync?.WaitForExit();
}

// Copies every file under source to the same place under target with copyFile(from, to).
static void CopyTree(string source, string target, Action<string, string> copyFile)
{
    foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
    {
        var destination = Path.Combine(target, Path.GetRelativePath(source, file));
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        copyFile(file, destination);
    }
}

// File.Copy, then fsync of the copy when flushToDisk.
static void PlainCopy(string from, string to, bool flushToDisk)
{
    File.Copy(from, to);
    if (flushToDisk)
    {
        using var copied = new FileStream(to, FileMode.Open, FileAccess.ReadWrite);
        copied.Flush(flushToDisk: true);
    }
}

// Through user space: read into the buffer, write it out.
static void ReadWriteCopy(string from, string to, byte[] buffer)
{
    using var source = File.OpenRead(from);
    using var destination = File.Create(to);
    for (int read; (read = source.Read(buffer)) > 0;)
    {
        destination.Write(buffer, 0, read);
    }
}

static void Generate(string path, long size, int seed)
{
    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    var random = new Random(seed);
    var buffer = new byte[(int)Math.Min(size, 1 << 20)];
    using var file = File.Create(path);
    for (long written = 0; written < size; written += buffer.Length)
    {
        random.NextBytes(buffer);
        file.Write(buffer, 0, (int)Math.Min(buffer.Length, size - written));
    }
}

int Argument(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>This process's CPU time, and that of the last timed case.</summary>
internal static class Cpu
{
    public static double Last { get; set; }

    public static double Now() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
}

/// <summary>Reports synchronously, on the thread that reports.</summary>
internal sealed class Progress(Action<TransferProgress> report) : IProgress<TransferProgress>
{
    public void Report(TransferProgress value) => report(value);
}

/// <summary>Counts blob uploads (to the server, or parts straight to the bucket) and their bytes as they go over the wire.</summary>
internal sealed class CountingHandler(string? bucket) : DelegatingHandler(new SocketsHttpHandler())
{
    private long _blobPuts;
    private long _blobBytes;

    public long BlobPuts => Interlocked.Read(ref _blobPuts);

    public long BlobBytes => Interlocked.Read(ref _blobBytes);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method == HttpMethod.Put && (request.RequestUri!.AbsolutePath.Contains("/api/v1/blobs/", StringComparison.Ordinal) || request.RequestUri.Authority == bucket))
        {
            Interlocked.Increment(ref _blobPuts);
            Interlocked.Add(ref _blobBytes, request.Content?.Headers.ContentLength ?? 0);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
