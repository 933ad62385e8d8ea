using System.Security.Cryptography;
using System.Text;
using Liftoff.Server.Blobs;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Blobs;

public sealed class FileSystemBlobStoreTests : IDisposable
{
    private readonly TempDirectory _root = new();

    [Fact]
    public async Task Write_MatchingContent_IsReadableByItsDigest()
    {
        var store = new FileSystemBlobStore(_root.Path);
        var content = Encoding.UTF8.GetBytes("hello blobs");

        await store.WriteAsync(Sha(content), content.Length, new MemoryStream(content), default);

        Assert.True(await store.ExistsAsync(Sha(content), default));
        await using var read = await store.OpenReadAsync(Sha(content), default);
        using var copy = new MemoryStream();
        await read!.CopyToAsync(copy);
        Assert.Equal(content, copy.ToArray());
        Assert.Empty(Directory.GetFiles(Path.Combine(_root.Path, "tmp")));
    }

    [Fact]
    public async Task Write_LargeContentArrivingInSmallReads_IsStoredIntact()
    {
        var store = new FileSystemBlobStore(_root.Path);
        var content = new byte[(70 << 20) + 13];
        new Random(11).NextBytes(content);

        await store.WriteAsync(Sha(content), content.Length, new TrickleStream(content, 7_001), default);

        Assert.Equal(content, await File.ReadAllBytesAsync(store.FileOf(Sha(content))!));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root.Path, "tmp")));
    }

    [Theory]
    [InlineData(5, "size")]
    [InlineData(20, "size")]
    [InlineData(11, "sha256")]
    public async Task Write_MismatchedSizeOrDigest_ThrowsNamingTheFieldAndKeepsNothing(int announced, string field)
    {
        var store = new FileSystemBlobStore(_root.Path);
        var content = Encoding.UTF8.GetBytes("hello blobs");
        var digest = field == "sha256" ? Sha(Encoding.UTF8.GetBytes("something else")) : Sha(content);

        var error = await Assert.ThrowsAsync<BlobMismatchException>(() => store.WriteAsync(digest, announced, new MemoryStream(content), default));

        Assert.Equal(field, error.Field);
        Assert.False(await store.ExistsAsync(digest, default));
        Assert.Empty(Directory.GetFiles(_root.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Write_ContentAlreadyStored_StillChecksWhatArrives()
    {
        var store = new FileSystemBlobStore(_root.Path);
        var content = Encoding.UTF8.GetBytes("stored once");
        await store.WriteAsync(Sha(content), content.Length, new MemoryStream(content), default);

        var forged = Encoding.UTF8.GetBytes("stored twi!");
        await Assert.ThrowsAsync<BlobMismatchException>(() => store.WriteAsync(Sha(content), forged.Length, new MemoryStream(forged), default));

        await using var read = await store.OpenReadAsync(Sha(content), default);
        using var copy = new MemoryStream();
        await read!.CopyToAsync(copy);
        Assert.Equal(content, copy.ToArray());
    }

    [Fact]
    public async Task Write_SameContentConcurrently_StoresOneIntactBlob()
    {
        var store = new FileSystemBlobStore(_root.Path);
        var content = RandomNumberGenerator.GetBytes(3 << 20);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => store.WriteAsync(Sha(content), content.Length, new MemoryStream(content), default))));

        var files = Directory.GetFiles(Path.Combine(_root.Path, "sha256"), "*", SearchOption.AllDirectories);
        Assert.Equal(Sha(content), Path.GetFileName(Assert.Single(files)));
        Assert.Equal(Sha(content), Sha(await File.ReadAllBytesAsync(files[0])));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root.Path, "tmp")));
    }

    [Fact]
    public async Task OpenRead_UnknownDigest_IsNull() =>
        Assert.Null(await new FileSystemBlobStore(_root.Path).OpenReadAsync(new string('0', 64), default));

    public void Dispose() => _root.Dispose();

    private static string Sha(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>Hands out at most <c>chunk</c> bytes a read, as a network body does.</summary>
    private sealed class TrickleStream(byte[] content, int chunk) : MemoryStream(content)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
