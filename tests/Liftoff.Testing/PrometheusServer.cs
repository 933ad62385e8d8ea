using System.ComponentModel;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Liftoff.Testing;

/// <summary>
/// Debian's Prometheus (<c>scripts/setup/prometheus.sh</c>) on a free 127.0.0.1 port, scraping one target every
/// second into a temporary folder; killed and removed on dispose. Fails (never skips) naming what is missing.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private const string Setup = "run scripts/setup/prometheus.sh (as root) first";

    private readonly TempDirectory _data;
    private readonly Process _process;
    private readonly HttpClient _http;

    private PrometheusServer(Process process, int port, TempDirectory data)
    {
        _process = process;
        _data = data;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    /// <summary>Starts Prometheus scraping <c>http://127.0.0.1:<paramref name="targetPort"/>/metrics</c> and waits until it answers.</summary>
    public static async Task<PrometheusServer> StartAsync(int targetPort)
    {
        var data = new TempDirectory();
        var config = Path.Combine(data.Path, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: liftoff
                static_configs:
                  - targets: ["127.0.0.1:{targetPort}"]
            """);
        var port = LoopbackPort.Free();
        Process process;
        try
        {
            process = ProcessRunner.Start("prometheus", [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(data.Path, "tsdb")}",
                $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]);
        }
        catch (Win32Exception ex)
        {
            data.Dispose();
            throw new InvalidOperationException($"prometheus is not installed ({ex.Message}): {Setup}", ex);
        }

        var prometheus = new PrometheusServer(process, port, data);
        await Poll.UntilAsync(prometheus.ReadyAsync, ready => ready, TimeSpan.FromSeconds(60), $"Prometheus on port {port} to be ready");
        return prometheus;
    }

    /// <summary>The value of each series an instant query returns, by the labels the caller names.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string query)
    {
        var answer = await _http.GetFromJsonAsync<JsonElement>($"/api/v1/query?query={Uri.EscapeDataString(query)}");
        return [.. answer.GetProperty("data").GetProperty("result").EnumerateArray().Select(series => (
            (IReadOnlyDictionary<string, string>)series.GetProperty("metric").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetString()!),
            double.Parse(series.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture)))];
    }

    private async Task<bool> ReadyAsync()
    {
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"prometheus exited with {_process.ExitCode}: {await _process.StandardError.ReadToEndAsync()}");
        }

        try
        {
            return (await _http.GetAsync("/-/ready")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _http.Dispose();
        _data.Dispose();
    }
}
