using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Json;
using Liftoff.Core.Runs;
using Liftoff.Server.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Bench;

/// <summary>
/// History rows ingested per second through POST /api/v1/runs/{id}/history into SQLite, with one run and with 16
/// concurrent runs, next to the store alone (same batches, no HTTP or JSON) as the limit.
/// </summary>
internal static class IngestBenchmark
{
    private const int BatchRows = 1000;

    public static async Task RunAsync(BenchServer bench)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = bench.Server.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bench.Key);
        using var client = bench.Client();

        await IngestAsync(http, client, runs: 1, rowsPerRun: 20_000);
        var one = await IngestAsync(http, client, runs: 1, rowsPerRun: 300_000);
        var sixteen = await IngestAsync(http, client, runs: 16, rowsPerRun: 50_000);
        var store = await StoreOnlyAsync(bench, runs: 16, rowsPerRun: 50_000);

        Console.WriteLine($"history ingestion, 1 run:      {one,10:N0} rows/s ({one / store:0.00}x the store alone)");
        Console.WriteLine($"history ingestion, 16 runs:    {sixteen,10:N0} rows/s ({sixteen / store:0.00}x the store alone)");
        Console.WriteLine($"store alone (no HTTP), 16 runs:{store,10:N0} rows/s");
    }

    private static async Task<double> IngestAsync(HttpClient http, LiftoffClient client, int runs, int rowsPerRun)
    {
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
        var rate = runs * (double)rowsPerRun / watch.Elapsed.TotalSeconds;
        foreach (var id in ids)
        {
            await client.FinishRunAsync(id, 0);
        }

        return rate;
    }

    private static async Task<double> StoreOnlyAsync(BenchServer bench, int runs, int rowsPerRun)
    {
        var store = bench.Server.Services.GetRequiredService<IRunStore>();
        var entity = (await bench.Server.Services.GetRequiredService<IIdentityStore>().FindAdminAsync(default))!;
        var now = DateTimeOffset.UtcNow;
        var ids = Enumerable.Range(0, runs).Select(_ => RunIds.NewId()).ToList();
        foreach (var id in ids)
        {
            await store.TryCreateRunAsync(entity.Id, new RunRecord(id, entity.Name, "bench-store", id, RunStates.Running, JsonObjects.Empty, JsonObjects.Empty,
                null, null, null, null, null, now, now, null, now, false, null, 0), default);
        }

        var watch = Stopwatch.StartNew();
        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            for (var first = 0; first < rowsPerRun; first += BatchRows)
            {
                var rows = Enumerable.Range(first, BatchRows).Select(s => new StoredHistoryRow(s, 1.7e9 + s, string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""{"loss":{{1.0 / (s + 1)}},"acc":0.5}"""))).ToArray();
                await store.AppendHistoryAsync(entity.Id, id, rows, (run, _) => run, default);
            }
        })));
        return runs * (double)rowsPerRun / watch.Elapsed.TotalSeconds;
    }

    private static byte[] Batch(int first)
    {
        var body = new StringBuilder("""{"rows":[""");
        for (var s = first; s < first + BatchRows; s++)
        {
            body.Append(s == first ? "" : ",").Append(System.Globalization.CultureInfo.InvariantCulture, $$$"""{"step":{{{s}}},"time":{{{1.7e9 + s}}},"values":{"loss":{{{1.0 / (s + 1)}}},"acc":0.5}}""");
        }

        return Encoding.UTF8.GetBytes(body.Append("]}").ToString());
    }
}
