using System.Collections.Concurrent;
using System.Security.Cryptography;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Sdk;

/// <summary>The .NET client against a server whose blobs are in a real S3-compatible bucket (s3rver on 127.0.0.1).</summary>
public sealed class S3ArtifactSdkTests(S3ServerFixture server) : IClassFixture<S3ServerFixture>
{
    [Fact]
    public async Task UploadAndDownload_S3Store_FileBytesGoStraightBetweenClientAndBucket()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var root = Path.Combine(work.Path, "data");
        var large = new byte[(70 << 20) + 5];
        new Random(3).NextBytes(large);
        Directory.CreateDirectory(Path.Combine(root, "parts"));
        await File.WriteAllBytesAsync(Path.Combine(root, "large.bin"), large);
        for (var i = 0; i < 20; i++)
        {
            work.File($"data/parts/p{i}.txt", $"part {i}");
        }

        var total = Directory.GetFiles(root, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        var tally = new TallyHandler();
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, key), tally);

        var version = await client.UploadArtifactAsync(root, "p", "direct", new ArtifactUploadOptions("dataset"));
        var putToServer = tally.PutBytes(server.BaseUrl.Authority);
        var putToBucket = tally.PutBytes(server.S3.Endpoint.Authority);
        var again = await client.UploadArtifactAsync(root, "p", "direct", new ArtifactUploadOptions("dataset"));
        var directory = await client.DownloadArtifactAsync(await client.GetArtifactVersionAsync("p", "direct", "latest"), Path.Combine(work.Path, "down"));

        Assert.Equal(0, putToServer);
        Assert.Equal(total, putToBucket);
        Assert.Equal(putToBucket, tally.PutBytes(server.S3.Endpoint.Authority));
        Assert.Equal(version.Version, again.Version);
        Assert.False(again.Created);
        Assert.Equal(21, tally.BlobReadsFrom.Count);
        Assert.All(tally.BlobReadsFrom, authority => Assert.Equal(server.S3.Endpoint.Authority, authority));
        Assert.Equal(SHA256.HashData(large), SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(directory, "large.bin"))));
        Assert.Equal("part 7", await File.ReadAllTextAsync(Path.Combine(directory, "parts", "p7.txt")));
    }

    /// <summary>Request body bytes PUT per host, and where each blob read was finally answered from (after redirects).</summary>
    private sealed class TallyHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly ConcurrentDictionary<string, long> _putBytes = new(StringComparer.Ordinal);

        public ConcurrentBag<string> BlobReadsFrom { get; } = [];

        public long PutBytes(string authority) => _putBytes.GetValueOrDefault(authority);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Put)
            {
                _putBytes.AddOrUpdate(request.RequestUri!.Authority, request.Content?.Headers.ContentLength ?? 0, (_, sum) => sum + (request.Content?.Headers.ContentLength ?? 0));
            }

            // Read before sending: following a redirect rewrites the request's URI.
            var blobRead = request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.Contains("/api/v1/blobs/", StringComparison.Ordinal);
            var response = await base.SendAsync(request, cancellationToken);
            if (blobRead)
            {
                BlobReadsFrom.Add(response.RequestMessage!.RequestUri!.Authority);
            }

            return response;
        }
    }
}
