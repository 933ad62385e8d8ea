using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Liftoff.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Bench.Wandb;

public sealed record IngestionOptions(int Clients = 16, int Batches = 20, int RowsPerBatch = 500, int Rounds = 5);

public sealed record IngestionResult(string Protocol, int Round, long Rows, TimeSpan Elapsed)
{
    public double RowsPerSecond => Rows / Elapsed.TotalSeconds;
}

/// <summary>
/// History ingestion through a real server on 127.0.0.1: each of N concurrent clients owns one run and sends its
/// batches one after another, as an SDK does. The native API (POST /api/v1/runs/{id}/history) and the wandb
/// file_stream (history lines plus the summary line, as the clients send them) get the same rows, alternating rounds
/// so that drift on a shared machine hits both. Bounded: Clients × Batches requests per protocol and round.
/// </summary>
public static class IngestionBenchmark
{
    public static async Task<IReadOnlyList<IngestionResult>> RunAsync(IngestionOptions options, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        var data = Directory.CreateTempSubdirectory("liftoff-bench-");
        try
        {
            await using var server = await LiftoffServer.StartAsync(
                new ServerOptions { DataDirectory = data.FullName, Port = 0, RunHeartbeatTimeout = TimeSpan.FromHours(1) },
                logging => logging.AddFilter(_ => false));
            var key = server.InitialAdminKey!;
            using var native = new HttpClient { BaseAddress = server.BaseUrl };
            native.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var wandb = new HttpClient { BaseAddress = server.BaseUrl };
            wandb.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("api:" + key)));

            await NativeRoundAsync(native, options with { Batches = 2 });
            await WandbRoundAsync(wandb, options with { Batches = 2 });
            var results = new List<IngestionResult>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var (name, run) in new (string, Func<Task<TimeSpan>>)[] { ("native", () => NativeRoundAsync(native, options)), ("wandb", () => WandbRoundAsync(wandb, options)) })
                {
                    var result = new IngestionResult(name, round, (long)options.Clients * options.Batches * options.RowsPerBatch, await run());
                    results.Add(result);
                    await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"round {round} {name,-6} {result.Rows} rows in {result.Elapsed.TotalSeconds:0.00} s = {result.RowsPerSecond:0} rows/s"));
                }
            }

            return results;
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    /// <summary>The median rows/s of one protocol's rounds: the machine is shared, so single rounds swing.</summary>
    public static double Median(IReadOnlyList<IngestionResult> results, string protocol)
    {
        ArgumentNullException.ThrowIfNull(results);
        var sorted = results.Where(r => r.Protocol == protocol).Select(r => r.RowsPerSecond).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static async Task<TimeSpan> NativeRoundAsync(HttpClient http, IngestionOptions options)
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(async _ =>
        {
            using var created = await http.PostAsync("/api/v1/runs", Json("""{"project":"bench"}"""));
            using var document = JsonDocument.Parse(await Ensure(created));
            return document.RootElement.GetProperty("id").GetString()!;
        }));
        return await TimeAsync(http, runs, options, id => $"/api/v1/runs/{id}/history", batch =>
        {
            var body = new StringBuilder("""{"rows":[""");
            for (var i = 0; i < options.RowsPerBatch; i++)
            {
                var step = (long)batch * options.RowsPerBatch + i;
                body.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $$"""{"step":{{step}},"time":{{1_700_000_000 + step}},"values":{{Values(step)}}}""");
            }

            return body.Append("]}").ToString();
        });
    }

    private static async Task<TimeSpan> WandbRoundAsync(HttpClient http, IngestionOptions options)
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(async _ =>
        {
            var id = "b" + Guid.NewGuid().ToString("N")[..11];
            var upsert = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["query"] = "mutation U($name: String, $project: String) { upsertBucket(input: {name: $name, modelName: $project}) { bucket { id } inserted } }",
                ["variables"] = new Dictionary<string, string> { ["name"] = id, ["project"] = "bench" },
            });
            using var created = await http.PostAsync("/graphql", Json(upsert));
            await Ensure(created);
            return id;
        }));
        return await TimeAsync(http, runs, options, id => $"/files/admin/bench/{id}/file_stream", batch =>
        {
            var lines = new List<string>(options.RowsPerBatch);
            var last = "";
            for (var i = 0; i < options.RowsPerBatch; i++)
            {
                var step = (long)batch * options.RowsPerBatch + i;
                last = Values(step)[..^1] + string.Create(CultureInfo.InvariantCulture, $$""","_step":{{step}},"_runtime":{{step / 10.0}},"_timestamp":{{1_700_000_000 + step}}}""");
                lines.Add(last);
            }

            return JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["files"] = new Dictionary<string, object>
                {
                    ["wandb-history.jsonl"] = new Dictionary<string, object> { ["offset"] = batch * options.RowsPerBatch, ["content"] = lines },
                    ["wandb-summary.json"] = new Dictionary<string, object> { ["offset"] = 0, ["content"] = new[] { last } },
                },
            });
        });
    }

    /// <summary>
    /// Every client sends its batches in order, all clients at once; the time is from the first send to the last
    /// answer. Bodies are built before the clock starts (the same for every run), so the time is the server's.
    /// </summary>
    private static async Task<TimeSpan> TimeAsync(HttpClient http, string[] runs, IngestionOptions options, Func<string, string> path, Func<int, string> body)
    {
        var bodies = Enumerable.Range(0, options.Batches).Select(body).ToArray();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(runs.Select(id => Task.Run(async () =>
        {
            foreach (var batch in bodies)
            {
                using var response = await http.PostAsync(path(id), Json(batch));
                await Ensure(response);
            }
        })));
        return clock.Elapsed;
    }

    private static string Values(long step) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"loss":{{1.0 / (step + 1)}},"acc":{{step % 1000 / 1000.0}},"lr":0.001,"epoch":{{step / 1000}}}""");

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<string> Ensure(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? text : throw new InvalidOperationException($"{(int)response.StatusCode} from {response.RequestMessage?.RequestUri}: {text}");
    }
}
