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
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = store.Server.BaseUrl };
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
    /// claiming (no wait) and reporting the item finished until the queue is empty.
    /// </summary>
    public static async Task<double> ClaimCyclesAsync(StoreUnderTest store, int clients, int items)
    {
        using var client = store.Client();
        using (var http = new HttpClient { BaseAddress = store.Server.BaseUrl })
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
        return cycles == items ? cycles / elapsed : throw new InvalidOperationException($"{cycles} cycles for {items} items");
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
