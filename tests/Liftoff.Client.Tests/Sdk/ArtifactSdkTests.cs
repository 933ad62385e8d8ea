using System.Security.Cryptography;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Sdk;

public sealed class ArtifactSdkTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task LogArtifact_ThenUseAndDownload_RoundTripsAndRecordsUsedAndProduced()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        work.File("model/weights.bin", "0123456789");
        work.File("model/config/params.json", """{"depth":3}""");
        await using var producer = await Run.InitAsync(new RunOptions { Project = "p", Settings = new LiftoffSettings(server.BaseUrl, key), CaptureConsole = false });

        var logged = await producer.LogArtifactAsync(Path.Combine(work.Path, "model"), "net", "model", ["candidate"]);
        await producer.FinishAsync();
        await using var consumer = await Run.InitAsync(new RunOptions { Project = "p", Settings = new LiftoffSettings(server.BaseUrl, key), CaptureConsole = false });
        var used = await consumer.UseArtifactAsync("net:candidate");
        var directory = await used.DownloadAsync(Path.Combine(work.Path, "out"));
        await consumer.FinishAsync();

        Assert.Equal("v0", logged.Version);
        Assert.Equal("v0", used.Version.Version);
        Assert.Equal("0123456789", await File.ReadAllTextAsync(Path.Combine(directory, "weights.bin")));
        Assert.Equal("""{"depth":3}""", await File.ReadAllTextAsync(Path.Combine(directory, "config", "params.json")));
        using var client = server.Client(key);
        Assert.Equal(["net"], (await client.ListRunArtifactsAsync(producer.Id)).Produced.Select(v => v.Name));
        Assert.Equal(["net"], (await client.ListRunArtifactsAsync(consumer.Id)).Used.Select(v => v.Name));
    }

    [Fact]
    public async Task UploadArtifact_UnchangedDirectory_SendsNoBlobAndIsTheSameVersion()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        for (var i = 0; i < 50; i++)
        {
            work.File($"d/{i % 5}/f{i}.txt", $"file {i}");
        }

        var counting = new CountingHandler();
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, key), counting);
        var first = await client.UploadArtifactAsync(Path.Combine(work.Path, "d"), "p", "small", new ArtifactUploadOptions("dataset"));
        var putsAfterFirst = counting.BlobPuts;
        work.File("d/new.txt", "one more");
        var second = await client.UploadArtifactAsync(Path.Combine(work.Path, "d"), "p", "small", new ArtifactUploadOptions("dataset"));
        var bytesBeforeThird = counting.BlobBytes;
        File.Delete(Path.Combine(work.Path, "d", "new.txt"));
        var third = await client.UploadArtifactAsync(Path.Combine(work.Path, "d"), "p", "small", new ArtifactUploadOptions("dataset"));

        Assert.Equal(50, putsAfterFirst);
        Assert.Equal(51, counting.BlobPuts);
        Assert.Equal(bytesBeforeThird, counting.BlobBytes);
        Assert.Equal(["v0", "v1", "v0"], new[] { first.Version, second.Version, third.Version });
        Assert.False(third.Created);
    }

    [Fact]
    public async Task Download_ExistingSymlinkInTheTargetLeadingOutside_IsRefusedAndNothingWrittenThere()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        work.File("src/sub/file.txt", "payload");
        using var client = server.Client(key);
        var version = await client.UploadArtifactAsync(Path.Combine(work.Path, "src"), "p", "trap", new ArtifactUploadOptions("dataset"));
        var outside = Directory.CreateDirectory(Path.Combine(work.Path, "outside")).FullName;
        Directory.CreateDirectory(Path.Combine(work.Path, "out"));
        Directory.CreateSymbolicLink(Path.Combine(work.Path, "out", "sub"), outside);

        var error = await Assert.ThrowsAsync<LiftoffException>(async () => await client.DownloadArtifactAsync(await client.GetArtifactVersionAsync("p", "trap", version.Version), Path.Combine(work.Path, "out")));

        Assert.Contains("outside", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(outside));
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("/etc/evil")]
    [InlineData("a/../../evil")]
    public void TargetPath_UnsafePathFromAServer_IsRefused(string path)
    {
        using var work = new TempDirectory();
        var error = Assert.Throws<LiftoffException>(() => ArtifactFiles.TargetPath(work.Path, path));
        Assert.Contains("nothing was written", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UploadThenDownload_OneGibibyteFile_IsByteIdentical()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var source = Path.Combine(work.Path, "big", "huge.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(source)!);
        var expected = await WriteGeneratedAsync(source, 1L << 30);
        using var client = server.Client(key);

        var version = await client.UploadArtifactAsync(Path.GetDirectoryName(source)!, "p", "huge", new ArtifactUploadOptions("dataset"));
        var directory = await client.DownloadArtifactAsync(await client.GetArtifactVersionAsync("p", "huge", "latest"), Path.Combine(work.Path, "down"));

        Assert.Equal(1L << 30, version.Size);
        var copy = Path.Combine(directory, "huge.bin");
        Assert.Equal(1L << 30, new FileInfo(copy).Length);
        await using var stream = File.OpenRead(copy);
        Assert.Equal(expected, Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)));
    }

    /// <summary>Writes a non-repeating pattern (so no layer can compress or dedupe it) and returns its SHA-256.</summary>
    private static async Task<string> WriteGeneratedAsync(string path, long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        var random = new Random(42);
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous);
        for (long written = 0; written < size; written += buffer.Length)
        {
            random.NextBytes(buffer);
            hash.AppendData(buffer);
            await file.WriteAsync(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
