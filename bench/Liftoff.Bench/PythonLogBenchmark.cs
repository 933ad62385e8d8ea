using System.Diagnostics;
using System.Text.Json;

namespace Liftoff.Bench;

/// <summary>
/// Latency of liftoff.log() in the Python SDK, measured inside the interpreter by bench/python/log_latency.py while it
/// sends to the real server, next to the cost of an empty Python function call on the same interpreter.
/// </summary>
internal static class PythonLogBenchmark
{
    public static async Task RunAsync(BenchServer bench)
    {
        var python = await ResolveInterpreterAsync();
        var script = Path.Combine(RepoRoot(), "bench", "python", "log_latency.py");
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        info.Environment["LIFTOFF_BASE_URL"] = bench.Server.BaseUrl.ToString();
        info.Environment["LIFTOFF_API_KEY"] = bench.Key;
        info.Environment["LIFTOFF_CONSOLE"] = "off";
        using var process = Process.Start(info)!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed:\n{stderr}");
        }

        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = result.RootElement;
        Console.WriteLine($"python log(): {r.GetProperty("calls").GetInt64():N0} calls on {python}");
        Console.WriteLine($"  p50 {r.GetProperty("p50_us").GetDouble():0.00} µs, p99 {r.GetProperty("p99_us").GetDouble():0.00} µs, p99.9 {r.GetProperty("p999_us").GetDouble():0.00} µs, max {r.GetProperty("max_us").GetDouble():0.0} µs");
        if (r.TryGetProperty("empty_call_p50_us", out var floor))
        {
            Console.WriteLine($"  an empty Python function call: p50 {floor.GetDouble():0.00} µs (log() p50 is {r.GetProperty("p50_us").GetDouble() / floor.GetDouble():0.0}x that)");
        }
    }

    /// <summary>The interpreter behind the python3 on PATH (not the pyenv shim, which adds ~70 ms per start).</summary>
    private static async Task<string> ResolveInterpreterAsync()
    {
        if (Environment.GetEnvironmentVariable("LIFTOFF_BENCH_PYTHON") is { Length: > 0 } chosen)
        {
            return chosen;
        }

        var info = new ProcessStartInfo("python3", ["-c", "import sys; print(sys.executable)"]) { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        var path = (await process.StandardOutput.ReadToEndAsync()).Trim();
        await process.WaitForExitAsync();
        return path;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Liftoff.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("run the benchmark from a Liftoff checkout");
    }
}
