using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Bench.Cli;

/// <summary>
/// What a user waits for when typing a liftoff command: each command as a whole process (start-up, parse, HTTP call,
/// output, exit) against a running server, next to <c>python3 -c pass</c> and <c>git --version</c>, which every
/// reader can time on their own machine. Beside wall time it reports each process's CPU time (user + system), which a
/// busy machine inflates far less: on an idle machine the wall time of a single-threaded start is close to it.
/// </summary>
internal static partial class CliBenchmark
{
    private const string Project = "bench";
    private const string Queue = "bench";

    public static async Task RunAsync(int runs)
    {
        var root = RepoRoot();
        var liftoff = Environment.GetEnvironmentVariable("LIFTOFF_BENCH_CLI") is { Length: > 0 } chosen ? chosen : Path.Combine(root, "liftoff");
        var python = await ResolveInterpreterAsync();
        var data = Directory.CreateTempSubdirectory("liftoff-bench-cli-").FullName;
        try
        {
            await using var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = Path.Combine(data, "server"), Port = 0 }, logging => logging.AddFilter(_ => false));
            var environment = new Dictionary<string, string?>
            {
                ["HOME"] = Path.Combine(data, "home"),
                ["LIFTOFF_BASE_URL"] = server.BaseUrl.ToString(),
                ["LIFTOFF_API_KEY"] = server.InitialAdminKey,
                ["NO_COLOR"] = "1",
            };
            await SeedAsync(server, liftoff, environment);

            Console.WriteLine($"{Environment.ProcessorCount} cores; load average before: {LoadAverage()}; {runs} runs per command after one warm-up; liftoff = {liftoff}");
            var anchor = await MeasureAsync("python3 -c pass", python, ["-c", "pass"], environment, runs);
            var results = new List<(string Name, double Median, double P90, double Cpu)>
            {
                anchor,
                await MeasureAsync("git --version", "git", ["--version"], environment, runs),
                await MeasureAsync("liftoff --version", liftoff, ["--version"], environment, runs),
                await MeasureAsync("liftoff runs list", liftoff, ["runs", "list", "-p", Project], environment, runs),
                await MeasureAsync("liftoff launch --job bench --dry-run", liftoff, ["launch", "--job", "bench", "-p", Project, "--queue", Queue, "--dry-run"], environment, runs),
            };

            // ./liftoff's own share (bash and its staleness check) shows beside the native client it runs.
            var native = Path.Combine(root, ".build", "cli", "liftoff");
            if (liftoff == Path.Combine(root, "liftoff") && File.Exists(native))
            {
                results.Add(await MeasureAsync("liftoff --version (.build/cli/liftoff, no launcher)", native, ["--version"], environment, runs));
                results.Add(await MeasureAsync("liftoff runs list (.build/cli/liftoff, no launcher)", native, ["runs", "list", "-p", Project], environment, runs));
            }

            Console.WriteLine($"python3 is {python}");
            Console.WriteLine("| command | median ms | p90 ms | x python3 -c pass | median CPU ms |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
            foreach (var (name, median, p90, cpu) in results)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{name}` | {median:0.0} | {p90:0.0} | {median / anchor.Median:0.00} | {cpu:0.0} |"));
            }

            Console.WriteLine($"load average after: {LoadAverage()}");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>A queue, a job and a page of finished runs, so each command does its real work.</summary>
    private static async Task SeedAsync(LiftoffServer server, string liftoff, Dictionary<string, string?> environment)
    {
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, server.InitialAdminKey!));
        await client.CreateQueueAsync(new CreateQueueRequest(Queue, Resources.LocalProcess));
        for (var i = 0; i < 20; i++)
        {
            var run = await client.InitRunAsync(new InitRunRequest(Project));
            await client.FinishRunAsync(run.Id, 0);
        }

        // A git job: a local-process launch of it resolves (dry-run) without fetching anything.
        await client.CreateJobAsync(new CreateJobRequest(Project, "bench", new JobDefinition(JobSourceTypes.Repo,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["remote"] = "https://example.invalid/r.git", ["commit"] = new string('0', 40) }),
            ["python", "train.py"])));

        // Builds ./liftoff when its sources changed, outside the measurements.
        var (code, output) = await RunAsync(liftoff, ["--version"], environment);
        if (code != 0)
        {
            throw new InvalidOperationException($"liftoff --version failed ({code}): {output}");
        }
    }

    private static async Task<(string Name, double Median, double P90, double Cpu)> MeasureAsync(string name, string file, string[] args, Dictionary<string, string?> environment, int runs)
    {
        var (warmCode, warmOutput) = await RunAsync(file, args, environment);
        if (warmCode != 0)
        {
            throw new InvalidOperationException($"{name} failed ({warmCode}): {warmOutput}");
        }

        var times = new double[runs];
        var cpu = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var cpuBefore = ChildrenCpuMilliseconds();
            var started = Stopwatch.GetTimestamp();
            var (code, output) = await RunAsync(file, args, environment);
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            cpu[i] = ChildrenCpuMilliseconds() - cpuBefore;
            if (code != 0)
            {
                throw new InvalidOperationException($"{name} failed ({code}): {output}");
            }
        }

        Array.Sort(times);
        Array.Sort(cpu);
        return (name, times[runs / 2], times[Math.Min(runs - 1, (int)Math.Ceiling(runs * 0.9) - 1)], cpu[runs / 2]);
    }

    /// <summary>User + system time of every ended and reaped child so far (getrusage(RUSAGE_CHILDREN)).</summary>
    private static double ChildrenCpuMilliseconds()
    {
        // struct rusage on 64-bit Linux: ru_utime and ru_stime (two timevals of seconds and microseconds), then 14 longs.
        var usage = new long[18];
        if (GetResourceUsage(-1, usage) != 0)
        {
            throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return ((usage[0] + usage[2]) * 1000.0) + ((usage[1] + usage[3]) / 1000.0);
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetResourceUsage(int who, [Out] long[] usage);

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] args, Dictionary<string, string?> environment)
    {
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>The interpreter behind the python3 on PATH, not the pyenv shim (a shell script that adds its own start-up).</summary>
    private static async Task<string> ResolveInterpreterAsync()
    {
        if (Environment.GetEnvironmentVariable("LIFTOFF_BENCH_PYTHON") is { Length: > 0 } chosen)
        {
            return chosen;
        }

        var (_, output) = await RunAsync("python3", ["-c", "import sys; print(sys.executable)"], []);
        return output.Trim();
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

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
