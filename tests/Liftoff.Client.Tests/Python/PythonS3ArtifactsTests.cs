using System.Security.Cryptography;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Python;

/// <summary>The Python SDK against a server whose blobs are in a real S3-compatible bucket (s3rver on 127.0.0.1).</summary>
public sealed class PythonS3ArtifactsTests(S3ServerFixture server) : IClassFixture<S3ServerFixture>
{
    [Fact]
    public async Task LogArtifactThenDownload_S3Store_SendsPartsToTheBucketAndRoundTrips()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var large = new byte[(70 << 20) + 11];
        new Random(5).NextBytes(large);
        Directory.CreateDirectory(Path.Combine(work.Path, "data"));
        await File.WriteAllBytesAsync(Path.Combine(work.Path, "data", "large.bin"), large);
        work.File("data/small.txt", "small");
        var script = $$"""
            import json, liftoff, liftoff._artifacts as artifacts
            def through_the_server(*args):
                raise AssertionError("a blob went through the server")
            artifacts._upload_blob = through_the_server
            run = liftoff.init(project="p", console=False)
            version = run.log_artifact({{JsonSerializer.Serialize(Path.Combine(work.Path, "data"))}}, name="ds", type="dataset")
            root = run.use_artifact("ds:latest").download(root={{JsonSerializer.Serialize(Path.Combine(work.Path, "out"))}})
            print(json.dumps({"version": version["version"], "root": root}))
            liftoff.finish()
            """;

        var result = await Testing.Python.RunAsync(script, server.PythonEnv(key));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("v0", JsonDocument.Parse(result.Stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("version").GetString());
        Assert.Equal(SHA256.HashData(large), SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(work.Path, "out", "large.bin"))));
        Assert.Equal("small", await File.ReadAllTextAsync(Path.Combine(work.Path, "out", "small.txt")));
        var digest = Convert.ToHexStringLower(SHA256.HashData(large));
        Assert.Contains(Directory.GetFiles(server.S3.BucketDirectory, "*", SearchOption.AllDirectories), f => f.Contains(digest, StringComparison.Ordinal));
    }
}
