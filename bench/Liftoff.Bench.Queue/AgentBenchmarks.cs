using Liftoff.Bench.Kit;
using System.Diagnostics;
using System.Globalization;
using Liftoff.Contracts;

namespace Liftoff.Bench.Queue;

/// <summary>
/// Real agents running a trivial job (write a timestamp, init, finish): dispatch latency from the enqueue call
/// returning to the job's process starting, and items per second, each next to starting the same script directly.
/// </summary>
internal static class AgentBenchmarks
{
    private const int DispatchSamples = 60;
    private const int ThroughputItems = 60;
    private const int Concurrency = 4;

    public static async Task RunAsync(QueueBench bench, bool dispatch, bool throughput)
    {
        var stamps = Path.Combine(bench.Scratch, "stamps");
        Directory.CreateDirectory(stamps);
        var script = $"""
            import os, sys, time
            t = time.time()
            with open(os.path.join({System.Text.Json.JsonSerializer.Serialize(stamps)}, os.environ["LIFTOFF_ITEM_ID"]), "w") as f:
                f.write(repr(t))
            import liftoff
            liftoff.init()
            liftoff.finish()
            """;
        await bench.CreateQueueAsync("agents");
        await bench.CreateScriptJobAsync("stamp", script);
        var scriptFile = Path.Combine(bench.Scratch, "train.py");
        await File.WriteAllTextAsync(scriptFile, script);
        var spawnOnlyFile = Path.Combine(bench.Scratch, "spawn.py");
        await File.WriteAllTextAsync(spawnOnlyFile, script[..script.IndexOf("import liftoff", StringComparison.Ordinal)]);

        await bench.StartAgentAsync("agents", maxJobs: 1);
        using var client = bench.Client();
        for (var i = 0; i < 3; i++)
        {
            // Warm-up: the first item builds the venv and fetches the SDK wheel.
            await RunOneAsync(client, stamps);
        }

        if (dispatch)
        {
            var viaAgent = new List<double>();
            for (var i = 0; i < DispatchSamples; i++)
            {
                viaAgent.Add(await RunOneAsync(client, stamps));
            }

            var direct = new List<double>();
            for (var i = 0; i < DispatchSamples; i++)
            {
                var id = $"direct-{i}";
                var start = Measure.UnixNow();
                await StartDirectAsync(bench, scriptFile, id);
                direct.Add(double.Parse(await File.ReadAllTextAsync(Path.Combine(stamps, id)), CultureInfo.InvariantCulture) - start);
            }

            double P(List<double> v, double p) => Measure.Percentile(v, p);
            Console.WriteLine($"dispatch latency, enqueue returned -> job process started ({DispatchSamples} sequential items, 1 agent):");
            Console.WriteLine($"  through the agent:  p50 {Measure.Ms(P(viaAgent, 50)),9}  p99 {Measure.Ms(P(viaAgent, 99)),9}");
            Console.WriteLine($"  started directly:   p50 {Measure.Ms(P(direct, 50)),9}  p99 {Measure.Ms(P(direct, 99)),9}  (the physical limit)");
            Console.WriteLine($"  above the limit:    p50 {Measure.Ms(P(viaAgent, 50) - P(direct, 50)),9}  p99 {Measure.Ms(P(viaAgent, 99) - P(direct, 99)),9}");
        }

        await bench.StopAgentsAsync();
        if (throughput)
        {
            await bench.StartAgentAsync("agents", maxJobs: Concurrency / 2);
            await bench.StartAgentAsync("agents", maxJobs: Concurrency / 2);
            var watch = Stopwatch.StartNew();
            var items = new List<string>();
            for (var i = 0; i < ThroughputItems; i++)
            {
                items.Add((await client.EnqueueAsync("agents", new EnqueueRequest("stamp", QueueBench.Project))).Id);
            }

            foreach (var id in items)
            {
                await Waits.FinishedAsync(client, id, TimeSpan.FromMilliseconds(10));
            }

            var agentRate = ThroughputItems / watch.Elapsed.TotalSeconds;
            watch.Restart();
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) is var n && n <= ThroughputItems)
                {
                    await StartDirectAsync(bench, scriptFile, $"bare-{n}");
                }
            })));
            var bareRate = ThroughputItems / watch.Elapsed.TotalSeconds;
            watch.Restart();
            next = 0;
            await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Increment(ref next) is var n && n <= ThroughputItems)
                {
                    await StartDirectAsync(bench, spawnOnlyFile, $"spawn-{n}");
                }
            })));
            var spawnRate = ThroughputItems / watch.Elapsed.TotalSeconds;
            Console.WriteLine($"trivial jobs (write a timestamp, init, finish), {ThroughputItems} items, {Concurrency} at a time:");
            Console.WriteLine($"  real agents (2 agents x {Concurrency / 2} jobs):           {agentRate,6:0.0} jobs/s");
            Console.WriteLine($"  the same script started directly (own run):  {bareRate,6:0.0} jobs/s ({agentRate / bareRate:0.00}x)");
            Console.WriteLine($"  the script without the SDK, started directly:{spawnRate,6:0.0} jobs/s ({agentRate / spawnRate:0.00}x)");
            await bench.StopAgentsAsync();
        }
    }

    private static async Task<double> RunOneAsync(Liftoff.Client.LiftoffClient client, string stamps)
    {
        var item = await client.EnqueueAsync("agents", new EnqueueRequest("stamp", QueueBench.Project));
        var enqueued = Measure.UnixNow();
        await Waits.FinishedAsync(client, item.Id, TimeSpan.FromMilliseconds(10));

        return double.Parse(await File.ReadAllTextAsync(Path.Combine(stamps, item.Id)), CultureInfo.InvariantCulture) - enqueued;
    }

    private static async Task StartDirectAsync(QueueBench bench, string script, string id)
    {
        // The agent's venv interpreter, output captured as the agent captures it: the same start, minus the agent.
        var info = new ProcessStartInfo(bench.VenvPython, [script]) { UseShellExecute = false, WorkingDirectory = bench.Scratch, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in bench.DirectEnvironment(bench.SdkPath))
        {
            info.Environment[name] = value;
        }

        info.Environment["LIFTOFF_ITEM_ID"] = id;
        using var process = Process.Start(info)!;
        await Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync(), process.WaitForExitAsync());
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the direct start exited with {process.ExitCode}");
        }
    }
}
