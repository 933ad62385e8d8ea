using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Liftoff.Testing;

/// <summary>
/// A real S3-compatible server: s3rver from npm (pinned by tests/s3rver/package-lock.json, installed by
/// scripts/setup/npm-packages.sh), run with node on a free 127.0.0.1 port with its own data directory and one bucket. It checks
/// request signatures (AWS v4, presigned URLs included) with its fixed keys.
/// </summary>
public sealed partial class S3rver : IAsyncDisposable
{
    public const string Bucket = "liftoff";

    /// <summary>s3rver's fixed credentials: what it accepts signatures from.</summary>
    public const string AccessKeyId = "S3RVER";

    public const string SecretAccessKey = "S3RVER";

    private readonly Process _process;
    private readonly TempDirectory _data;

    private S3rver(Process process, TempDirectory data, Uri endpoint)
    {
        _process = process;
        _data = data;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    /// <summary>The server's <c>--blobs</c> for this bucket.</summary>
    public string BlobsLocation => $"s3://{Bucket}?endpoint={Uri.EscapeDataString(Endpoint.ToString().TrimEnd('/'))}&region=us-east-1";

    /// <summary>The files under which s3rver keeps the bucket's objects.</summary>
    public string BucketDirectory => Path.Combine(_data.Path, Bucket);

    public static string Script => Path.Combine(Repo.Root, "tests", "s3rver", "node_modules", "s3rver", "bin", "s3rver.js");

    public static async Task<S3rver> StartAsync()
    {
        if (!File.Exists(Script))
        {
            throw new InvalidOperationException($"s3rver is not installed ({Script} is missing): run scripts/setup/npm-packages.sh");
        }

        var data = new TempDirectory();
        var process = ProcessRunner.Start("node", [Script, "--directory", data.Path, "--address", "127.0.0.1", "--port", "0", "--silent", "--configure-bucket", Bucket]);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                var line = await process.StandardOutput.ReadLineAsync().WaitAsync(deadline - DateTime.UtcNow);
                if (line is null)
                {
                    break;
                }

                if (ListeningLine().Match(line) is { Success: true } match)
                {
                    // Keep reading what it prints, so that a full pipe never blocks it.
                    _ = process.StandardOutput.ReadToEndAsync();
                    _ = process.StandardError.ReadToEndAsync();
                    return new S3rver(process, data, new Uri($"http://127.0.0.1:{match.Groups[1].Value}"));
                }
            }

            throw new InvalidOperationException($"s3rver did not start within 30 s: {await process.StandardError.ReadToEndAsync()}");
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            data.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _data.Dispose();
    }

    [GeneratedRegex(@"S3rver listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();
}
