using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Liftoff.Server.Hosting;
using Liftoff.Testing;

namespace Liftoff.Cli.Tests;

/// <summary>
/// Real <c>liftoff server</c> processes on one PostgreSQL store and one S3-compatible bucket, each with a data directory
/// of its own: they share nothing else.
/// </summary>
internal sealed class ReplicaSet(Cli cli, string database, S3rver bucket, string dataDirectory) : IAsyncDisposable
{
    private readonly List<(Process Process, StringBuilder Output, Uri Url)> _replicas = [];

    public IReadOnlyList<Uri> Urls => [.. _replicas.Select(r => r.Url)];

    /// <summary>Starts one replica and waits until it answers; the first on a fresh store creates the admin and returns its key.</summary>
    public async Task<string?> StartAsync(bool createsAdmin = false)
    {
        var port = LoopbackPort.Free();
        var ownData = Path.Combine(dataDirectory, $"replica-{_replicas.Count}");
        var process = ProcessRunner.Start("dotnet", [Cli.Dll, "server", "--data-dir", ownData, "--port", port.ToString(CultureInfo.InvariantCulture)],
            cli.Environment(
                (DatabaseLocation.EnvironmentVariable, database),
                (BlobLocation.EnvironmentVariable, bucket.BlobsLocation),
                ("LIFTOFF_S3_ACCESS_KEY_ID", S3rver.AccessKeyId),
                ("LIFTOFF_S3_SECRET_ACCESS_KEY", S3rver.SecretAccessKey)));
        var output = new StringBuilder();
        var key = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                key.TrySetResult(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var url = new Uri($"http://127.0.0.1:{port}");
        _replicas.Add((process, output, url));

        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(5) };
        await Poll.UntilAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"replica on port {port} exited with {process.ExitCode}: {Output(_replicas.Count - 1)}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
                return response.StatusCode;
            }
            catch (HttpRequestException)
            {
                return HttpStatusCode.ServiceUnavailable;
            }
        }, status => status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), $"the replica on port {port} to answer");

        return createsAdmin ? await key.Task.WaitAsync(TimeSpan.FromSeconds(30)) : null;
    }

    /// <summary>SIGKILL: the replica gets no chance to finish what it was doing.</summary>
    public async Task KillAsync(int index)
    {
        var process = _replicas[index].Process;
        process.Kill();
        await process.WaitForExitAsync();
    }

    public string Output(int index)
    {
        var output = _replicas[index].Output;
        lock (output)
        {
            return output.ToString();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (process, _, _) in _replicas)
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }
    }
}
