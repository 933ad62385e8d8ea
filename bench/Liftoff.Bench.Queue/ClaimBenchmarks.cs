using Liftoff.Bench.Kit;
using System.Diagnostics;
using Liftoff.Contracts;

namespace Liftoff.Bench.Queue;

/// <summary>Bench clients speaking the agent protocol with no workload: claim cycles per second, and claim latency by queue depth.</summary>
internal static class ClaimBenchmarks
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);

    public static async Task CyclesAsync(QueueBench bench)
    {
        await bench.CreateQueueAsync("cycles");
        await bench.CreateRepoJobAsync("noop");
        await bench.BulkEnqueueAsync("cycles", "noop", 300_000);
        // Warm up until tiered compilation has settled (the server's hot paths reach tier 1 after a few thousand
        // calls): a server runs for days, so its steady state is what is measured, not its first seconds.
        await CycleAsync(bench, clients: 8, Window * 4, null);
        foreach (var clients in (int[])[1, 8])
        {
            var calls = new[] { new List<double>(), new List<double>(), new List<double>() };
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var (rate, cycles) = await CycleAsync(bench, clients, Window, calls);
            var cpuPerCycle = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / cycles;
            Console.WriteLine($"claim -> running -> finished, {clients} bench client(s) as agents: {rate,8:N0} cycles/s, {cpuPerCycle:0.00} ms CPU per cycle " +
                $"(p50 per call: claim {Measure.Ms(Measure.Percentile(calls[0], 50))}, running {Measure.Ms(Measure.Percentile(calls[1], 50))}, finished {Measure.Ms(Measure.Percentile(calls[2], 50))})");
        }
    }

    public static async Task LatencyByDepthAsync(QueueBench bench)
    {
        await bench.CreateRepoJobAsync("depth");
        Console.WriteLine("claim latency by pending depth (200 claims each, depth kept constant):");
        var p50At100 = 0.0;
        foreach (var depth in (int[])[100, 10_000, 1_000_000])
        {
            var queue = $"depth-{depth}";
            await bench.CreateQueueAsync(queue);
            var setup = Stopwatch.StartNew();
            await bench.BulkEnqueueAsync(queue, "depth", depth);
            var inserted = setup.Elapsed;
            using var client = bench.Client();
            var agent = await client.RegisterAgentAsync(new RegisterAgentRequest($"depth-{depth}", [queue]));
            var samples = new List<double>();
            for (var i = 0; i < 220; i++)
            {
                var watch = Stopwatch.StartNew();
                var claim = await client.ClaimAsync(agent.Id, TimeSpan.Zero) ?? throw new InvalidOperationException($"queue {queue} ran dry");
                var seconds = watch.Elapsed.TotalSeconds;
                if (i >= 20)
                {
                    samples.Add(seconds);
                }

                await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(claim.Spec.Attempt, ItemStates.Finished, ExitCode: 0));
                await client.EnqueueAsync(queue, new EnqueueRequest("depth", QueueBench.Project));
            }

            var p50 = Measure.Percentile(samples, 50);
            p50At100 = depth == 100 ? p50 : p50At100;
            Console.WriteLine($"  {depth,9:N0} pending: p50 {Measure.Ms(p50),8}  p99 {Measure.Ms(Measure.Percentile(samples, 99)),8}  ({p50 / p50At100:0.00}x the p50 at 100; setup insert {inserted.TotalSeconds:0.0} s)");
        }
    }

    /// <summary>
    /// Cycles per second, and how many ran. The CPU per cycle the caller derives is the whole process's, server and bench
    /// clients together: less sensitive to other load on the machine than the rate, it is what compares two builds.
    /// </summary>
    private static async Task<(double Rate, long Cycles)> CycleAsync(QueueBench bench, int clients, TimeSpan window, List<double>[]? calls)
    {
        var cycles = 0L;
        var stopAt = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Task.Run(async () =>
        {
            using var client = bench.Client();
            var agent = await client.RegisterAgentAsync(new RegisterAgentRequest($"cycler-{clients}-{i}", ["cycles"]));
            while (stopAt.Elapsed < window)
            {
                var t0 = Stopwatch.GetTimestamp();
                var claim = await client.ClaimAsync(agent.Id, TimeSpan.Zero) ?? throw new InvalidOperationException("the cycles queue ran dry");
                var t1 = Stopwatch.GetTimestamp();
                await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(claim.Spec.Attempt, ItemStates.Running));
                var t2 = Stopwatch.GetTimestamp();
                await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(claim.Spec.Attempt, ItemStates.Finished, ExitCode: 0));
                var t3 = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref cycles);
                if (calls is not null)
                {
                    lock (calls)
                    {
                        calls[0].Add(Stopwatch.GetElapsedTime(t0, t1).TotalSeconds);
                        calls[1].Add(Stopwatch.GetElapsedTime(t1, t2).TotalSeconds);
                        calls[2].Add(Stopwatch.GetElapsedTime(t2, t3).TotalSeconds);
                    }
                }
            }
        })));
        return (cycles / stopAt.Elapsed.TotalSeconds, cycles);
    }
}
