using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Liftoff.Testing;

/// <summary>
/// A real load balancer (Debian's haproxy, installed by scripts/setup/haproxy.sh) on a free 127.0.0.1 port in front of
/// server replicas on loopback: each request goes to the next live replica (round robin), a replica that stops answering
/// three health checks in a row (<c>GET /healthz</c> every 500 ms) is taken out, and a request whose connection to a dead replica
/// fails is sent to another one. Its configuration is written into a temp directory of its own.
/// </summary>
public sealed class LoadBalancer : IAsyncDisposable
{
    private readonly TempDirectory _directory;
    private readonly Process _process;
    private readonly StringBuilder _output;

    private LoadBalancer(TempDirectory directory, Process process, StringBuilder output, Uri baseUrl)
    {
        _directory = directory;
        _process = process;
        _output = output;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    /// <summary>haproxy's own output so far (its warnings and the replicas it took out), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<LoadBalancer> StartAsync(IReadOnlyList<Uri> replicas)
    {
        var haproxy = new[] { "/usr/sbin/haproxy", "/usr/bin/haproxy" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("haproxy is not installed: run scripts/setup/haproxy.sh (as root) or apt-get install haproxy");
        var directory = new TempDirectory();
        var port = LoopbackPort.Free();
        var config = Path.Combine(directory.Path, "haproxy.cfg");
        await File.WriteAllTextAsync(config, Config(port, replicas));
        var process = ProcessRunner.Start(haproxy, ["-f", config, "-db"]);
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var balancer = new LoadBalancer(directory, process, output, new Uri($"http://127.0.0.1:{port}"));
        try
        {
            using var http = new HttpClient { BaseAddress = balancer.BaseUrl, Timeout = TimeSpan.FromSeconds(5) };
            await Poll.UntilAsync(async () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"haproxy exited with {process.ExitCode}: {balancer.Output}");
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
            }, status => status == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "haproxy to answer through a replica");
        }
        catch
        {
            await balancer.DisposeAsync();
            throw;
        }

        return balancer;
    }

    private static string Config(int port, IReadOnlyList<Uri> replicas)
    {
        var config = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"""
            defaults
                mode http
                timeout connect 2s
                # Long polls (claims, followed logs) hold a request open for up to a minute or more.
                timeout client 10m
                timeout server 10m
                # Generous: on a loaded machine a live replica may take a moment to answer its health check.
                timeout check 3s
                # A request whose connection to a dead replica fails goes to another one.
                retries 3
                option redispatch 1

            frontend liftoff
                bind 127.0.0.1:{port}
                default_backend replicas

            backend replicas
                balance roundrobin
                option httpchk GET /healthz
                default-server inter 500ms fall 3 rise 1

            """));
        for (var i = 0; i < replicas.Count; i++)
        {
            config.Append(CultureInfo.InvariantCulture, $"    server replica{i} {replicas[i].Host}:{replicas[i].Port} check\n");
        }

        return config.ToString();
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }


    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _directory.Dispose();
    }
}
