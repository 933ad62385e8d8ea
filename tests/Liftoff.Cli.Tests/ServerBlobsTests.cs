using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Liftoff.Server.Hosting;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary><c>liftoff server --blobs</c>, through the real program, with a real S3-compatible server (s3rver).</summary>
public sealed class ServerBlobsTests
{
    [Fact]
    public async Task Server_OnAnS3Bucket_ArtifactPutAndGetGoThroughTheBucket()
    {
        using var home = new TempDirectory();
        await using var s3 = await S3rver.StartAsync();
        var cli = new Cli(home.Path);
        var port = LoopbackPort.Free();
        using var server = ProcessRunner.Start("dotnet", [Cli.Dll, "server", "--data-dir", Path.Combine(home.Path, "data"), "--port", port.ToString(CultureInfo.InvariantCulture)],
            cli.Environment((BlobLocation.EnvironmentVariable, s3.BlobsLocation), ("LIFTOFF_S3_ACCESS_KEY_ID", S3rver.AccessKeyId), ("LIFTOFF_S3_SECRET_ACCESS_KEY", S3rver.SecretAccessKey)));
        try
        {
            var banner = (await server.StandardError.ReadLineAsync())!;
            var key = (await server.StandardOutput.ReadLineAsync())!;
            home.File("work/data/weights.bin", "the weights");
            var env = cli.Environment(("LIFTOFF_BASE_URL", $"http://127.0.0.1:{port}"), ("LIFTOFF_API_KEY", key));
            var work = Path.Combine(home.Path, "work");

            var put = await ProcessRunner.RunAsync("dotnet", [Cli.Dll, "artifact", "put", "data", "--name", "w", "--type", "model", "--project", "p"], env, workingDirectory: work);
            var get = await ProcessRunner.RunAsync("dotnet", [Cli.Dll, "artifact", "get", "w:latest", "-o", "out", "--project", "p"], env, workingDirectory: work);

            Assert.Contains("blobs s3://liftoff/", banner, StringComparison.Ordinal);
            Assert.DoesNotContain(S3rver.SecretAccessKey, banner, StringComparison.Ordinal);
            Assert.True(put.ExitCode == 0, put.ToString());
            Assert.True(get.ExitCode == 0, get.ToString());
            Assert.Equal("the weights", await File.ReadAllTextAsync(Path.Combine(work, "out", "weights.bin")));
            var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("the weights")));
            Assert.Contains(Directory.GetFiles(s3.BucketDirectory, "*", SearchOption.AllDirectories), f => f.Contains(digest, StringComparison.Ordinal));
            Assert.False(Directory.Exists(Path.Combine(home.Path, "data", "blobs")));
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    [Theory]
    [InlineData("ftp://bucket", "s3://BUCKET")]
    [InlineData("s3://AKIA:secret@bucket", "LIFTOFF_S3_ACCESS_KEY_ID")]
    [InlineData("s3://Bad_Bucket", "bucket name")]
    [InlineData("s3://bucket?endpoint=ftp://x", "endpoint")]
    [InlineData("s3://bucket?colour=red", "unknown s3:// parameter 'colour'")]
    public async Task Server_WithABadBlobsLocation_IsAUsageErrorNamingIt(string blobs, string reason)
    {
        using var home = new TempDirectory();

        var result = await new Cli(home.Path).RunAsync("server", "--data-dir", home.Path, "--blobs", blobs);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--blobs", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(reason, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.Stderr, StringComparison.Ordinal);
    }

}
