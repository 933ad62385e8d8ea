using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Headers;
using Liftoff.Contracts;
using Liftoff.Server.Blobs;
using Liftoff.Server.Hosting;
using Liftoff.Server.Metrics;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Liftoff.Bench;

/// <summary>
/// GET /api/v1/runs/{id}/logs of a 1,000,000-line console, from the SQLite table and again after the console moved to a
/// blob (filesystem), next to the limits of each: the store's own paged read, and gunzip of the blob into nothing.
/// </summary>
internal static class ConsoleReadBenchmark
{
    private const int Lines = 1_000_000;
    private const int Batch = 10_000;

    public static async Task RunAsync(BenchServer bench)
    {
        var services = bench.Server.Services;
        var store = services.GetRequiredService<IRunStore>();
        using var client = bench.Client();
        using var http = new HttpClient { BaseAddress = bench.Server.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bench.Key);

        var run = await client.InitRunAsync(new InitRunRequest("bench-console"));
        var entity = (await services.GetRequiredService<IIdentityStore>().FindEntityAsync((await client.GetViewerAsync()).Entity, default))!.Id;
        for (var first = 0; first < Lines; first += Batch)
        {
            var lines = Enumerable.Range(first, Batch)
                .Select(n => new StoredLogLine(n, n % 10 == 0 ? "stderr" : "stdout", $"epoch {n / 1000} step {n}: loss=0.{n * 7919 % 100000:D5} |█████▌    | {n % 100}%", 1_700_000_000 + n / 100.0))
                .ToList();
            await store.AppendLogsAsync(entity, run.Id, first, lines, r => r, default);
        }

        await client.FinishRunAsync(run.Id, 0);

        var (tableSeconds, bytes) = await BestOfAsync(() => ReadAsync(http, run.Id, ""));
        var (tableTail, _) = await BestOfAsync(() => ReadAsync(http, run.Id, $"?after={Lines - 1001}"));
        var (storeSeconds, _) = await BestOfAsync(async () =>
        {
            long count = 0;
            for (var after = -1L; ;)
            {
                var page = await store.ReadLogsAsync(run.Id, after, 1000, default);
                count += page.Count;
                if (page.Count < 1000)
                {
                    return count;
                }

                after = page[^1].Line;
            }
        });

        var archiver = new ConsoleArchiver(store, services.GetRequiredService<IBlobStore>(), services.GetRequiredService<ServerOptions>(), TimeProvider.System, services.GetRequiredService<ServerMetrics>(), NullLogger<ConsoleArchiver>.Instance);
        var archiving = Stopwatch.StartNew();
        await archiver.ArchiveAsync(run.Id, DateTimeOffset.UtcNow, default);
        var archiveSeconds = archiving.Elapsed.TotalSeconds;
        var archive = await store.GetConsoleArchiveAsync(run.Id, default) ?? throw new InvalidOperationException("the console was not archived");

        var (blobSeconds, blobBytes) = await BestOfAsync(() => ReadAsync(http, run.Id, ""));
        var (blobTail, _) = await BestOfAsync(() => ReadAsync(http, run.Id, $"?after={Lines - 1001}"));
        var blobs = services.GetRequiredService<IBlobStore>();
        var (gunzipSeconds, _) = await BestOfAsync(async () =>
        {
            await using var blob = (await blobs.OpenReadAsync(archive.Sha256!, default))!;
            await using var gzip = new GZipStream(blob, CompressionMode.Decompress);
            await gzip.CopyToAsync(Stream.Null);
            return 0L;
        });

        if (blobBytes != bytes)
        {
            throw new InvalidOperationException($"the archived console reads {blobBytes} bytes, the table {bytes}");
        }

        Console.WriteLine($"console read, 1,000,000 lines ({bytes / 1e6:0} MB NDJSON, blob {archive.Size / 1e6:0.0} MB gzip):");
        Console.WriteLine($"  from the table: {tableSeconds:0.00} s, {Lines / tableSeconds,10:N0} lines/s (at {storeSeconds / tableSeconds:0.00}x the speed of the store's paged read alone, {storeSeconds:0.00} s)");
        Console.WriteLine($"  from the blob:  {blobSeconds:0.00} s, {Lines / blobSeconds,10:N0} lines/s ({tableSeconds / blobSeconds:0.00}x the table's speed; at {gunzipSeconds / blobSeconds:0.00}x the speed of gunzip of the blob alone, {gunzipSeconds:0.00} s)");
        Console.WriteLine($"  last 1,000 lines (after=): table {tableTail * 1000:0.0} ms, blob {blobTail * 1000:0.0} ms (the blob decompresses from its start)");
        Console.WriteLine($"  archiving it: {archiveSeconds:0.00} s, {Lines / archiveSeconds,10:N0} lines/s");
    }

    private static async Task<long> ReadAsync(HttpClient http, string runId, string query)
    {
        using var response = await http.GetAsync($"/api/v1/runs/{runId}/logs{query}", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[1 << 16];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        return total;
    }

    /// <summary>The fastest of three runs (after one warm-up), in seconds, with what the run returned.</summary>
    private static async Task<(double Seconds, long Result)> BestOfAsync(Func<Task<long>> run)
    {
        var result = await run();
        var best = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            result = await run();
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }

        return (best, result);
    }
}
