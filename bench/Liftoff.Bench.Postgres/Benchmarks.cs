using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Liftoff.Contracts;

namespace Liftoff.Bench.Postgres;

internal static class Benchmarks
{
    private const int BatchRows = 1000;

    /// <summary>History rows/s: 16 runs posting 1,000-row batches concurrently through POST /api/v1/runs/{id}/history.</summary>
    public static async Task<double> IngestAsync(StoreUnderTest store, int runs, int rowsPerRun)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = store.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", store.Key);
        using var client = store.Client();
        var ids = new List<string>();
        for (var i = 0; i < runs; i++)
        {
            ids.Add((await client.InitRunAsync(new InitRunRequest("bench"))).Id);
        }

        var watch = Stopwatch.StartNew();
        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            for (var first = 0; first < rowsPerRun; first += BatchRows)
            {
                using var content = new ByteArrayContent(Batch(first));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync($"/api/v1/runs/{id}/history", content);
                response.EnsureSuccessStatusCode();
            }
        })));
        return runs * (double)rowsPerRun / watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Claim→complete cycles/s: <paramref name="items"/> items enqueued first, then <paramref name="clients"/> agents each
    /// claiming (no wait) and reporting the item finished until the queue is empty; with the CPU the cycles used.
    /// </summary>
    public static async Task<(double Rate, CpuMeter Cpu)> ClaimCyclesAsync(StoreUnderTest store, int clients, int items)
    {
        using var client = store.Client();
        using (var http = new HttpClient { BaseAddress = store.BaseUrl })
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", store.Key);
            const string job = """{"project":"bench","name":"train","definition":{"source_type":"repo","source":{"remote":"https://example.invalid/repo.git","commit":"0123456789abcdef0123456789abcdef01234567"},"entrypoint":["python","train.py"]}}""";
            using var response = await http.PostAsync("/api/v1/jobs", new StringContent(job, Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
        }

        await client.CreateQueueAsync(new CreateQueueRequest("bench", Resources.LocalProcess));
        await Parallel.ForEachAsync(Enumerable.Range(0, items), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
            await client.EnqueueAsync("bench", new EnqueueRequest("train", "bench"), ct));
        var agents = new List<string>();
        for (var i = 0; i < clients; i++)
        {
            agents.Add((await client.RegisterAgentAsync(new RegisterAgentRequest($"bench-{i}", ["bench"]))).Id);
        }

        var cycles = 0;
        var cpu = CpuMeter.Read();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(agents.Select(agent => Task.Run(async () =>
        {
            while (await client.ClaimAsync(agent, TimeSpan.Zero) is { } claim)
            {
                await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(claim.Spec.Attempt, ItemStates.Finished));
                Interlocked.Increment(ref cycles);
            }
        })));
        var elapsed = watch.Elapsed.TotalSeconds;
        return cycles == items ? (cycles / elapsed, CpuMeter.Read() - cpu) : throw new InvalidOperationException($"{cycles} cycles for {items} items");
    }

    /// <summary>
    /// Dispatch latency: an agent long-polls (through its own client, so behind a balancer its claim and the enqueue
    /// usually reach different replicas), the item is enqueued 50 ms later, and the time from the enqueue call returning
    /// to the claim returning is one sample (0 when the claim came back first). Needs the job ClaimCyclesAsync creates.
    /// </summary>
    public static async Task<IReadOnlyList<double>> DispatchAsync(StoreUnderTest store, int samples)
    {
        using var enqueuer = store.Client();
        using var poller = store.Client();
        await enqueuer.CreateQueueAsync(new CreateQueueRequest("dispatch", Resources.LocalProcess));
        var agent = (await poller.RegisterAgentAsync(new RegisterAgentRequest("dispatch", ["dispatch"]))).Id;
        var latencies = new List<double>();
        for (var i = 0; i < samples + 10; i++)
        {
            var poll = Task.Run(async () =>
            {
                var claim = await poller.ClaimAsync(agent, TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException("the long poll ended with no item");
                return (Claim: claim, At: Stopwatch.GetTimestamp());
            });
            // Pacing, not synchronisation: the poll is almost always parked on its replica when the enqueue arrives.
            await Task.Delay(50);
            await enqueuer.EnqueueAsync("dispatch", new EnqueueRequest("train", "bench"));
            var enqueued = Stopwatch.GetTimestamp();
            var (claim, at) = await poll;
            await poller.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(claim.Spec.Attempt, ItemStates.Finished));
            if (i >= 10)
            {
                latencies.Add(at > enqueued ? Stopwatch.GetElapsedTime(enqueued, at).TotalSeconds : 0);
            }
        }

        return latencies;
    }

    private static byte[] Batch(int first)
    {
        var body = new StringBuilder("""{"rows":[""");
        for (var s = first; s < first + BatchRows; s++)
        {
            body.Append(s == first ? "" : ",").Append(CultureInfo.InvariantCulture, $$$"""{"step":{{{s}}},"time":{{{1.7e9 + s}}},"values":{"loss":{{{1.0 / (s + 1)}}},"acc":0.5}}""");
        }

        return Encoding.UTF8.GetBytes(body.Append("]}").ToString());
    }

    /// <summary>The JSON the benchmark prints last, for scripts.</summary>
    public static string Json(IReadOnlyList<(string Store, double Rows, double Cycles)> results) =>
        JsonSerializer.Serialize(results.Select(r => new Dictionary<string, object> { ["store"] = r.Store, ["history_rows_per_s"] = Math.Round(r.Rows), ["claim_cycles_per_s"] = Math.Round(r.Cycles, 1) }));
}
