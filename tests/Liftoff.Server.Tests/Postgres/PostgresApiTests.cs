using System.Collections.Concurrent;
using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Postgres;

/// <summary>The API paths where PostgreSQL's concurrency differs most from SQLite's one writer, through the real server.</summary>
public sealed class PostgresApiTests(PostgresServerFixture server) : IClassFixture<PostgresServerFixture>
{
    [Fact]
    public async Task Claim_WhenFourAgentsRace_HandsOutEachOfTwoThousandItemsOnce()
    {
        var client = await SetUpQueueAsync();

        var (enqueued, claimed) = await QueueRace.RunAsync(client, items: 2000, agents: 4);

        Assert.Equal(2000, claimed.Count);
        Assert.Equal(enqueued, claimed);
        Assert.Equal(2000, (await client.GetQueueAsync("q")).Items["finished"]);
    }

    [Fact]
    public async Task Enqueue_SameIdempotencyKeyConcurrently_StoresOneItem()
    {
        var client = await SetUpQueueAsync();

        var items = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.EnqueueAsync("q", new EnqueueRequest("train", "p", IdempotencyKey: "once"))));

        Assert.Single(items.Select(i => i.Id).Distinct());
        Assert.Single((await client.ListItemsAsync("q")).Items);
    }

    [Fact]
    public async Task Claim_WaitingOnAnEmptyQueue_ReturnsTheItemEnqueuedDuringTheWait()
    {
        var client = await SetUpQueueAsync();
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));

        var waiting = client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(30));
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var claim = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(item.Id, claim?.Item.Id);
    }

    [Fact]
    public async Task History_SixteenRunsIngestingConcurrently_StoreEveryRowInOrder()
    {
        using var client = server.Client(await server.NewUserKeyAsync());
        var runs = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => client.InitRunAsync(new InitRunRequest("ingest"))));

        await Task.WhenAll(runs.Select(run => Task.Run(async () =>
        {
            for (var first = 0; first < 2000; first += 250)
            {
                var rows = Enumerable.Range(first, 250).Select(s => new HistoryRow(s, Values(s), 1.7e9 + s)).ToList();
                Assert.Equal(250, (await client.AppendHistoryAsync(run.Id, rows)).Accepted);
            }

            Assert.Equal(0, (await client.AppendHistoryAsync(run.Id, [new HistoryRow(1999, Values(1999), 1.7e9 + 1999)])).Accepted);
        })));

        foreach (var run in runs)
        {
            var stored = await client.ReadHistoryAsync(run.Id).ToListAsync();
            Assert.Equal(Enumerable.Range(0, 2000).Select(s => (long)s), stored.Select(r => r.Step));
            var info = await client.GetRunAsync(run.Id);
            Assert.Equal(1999, info.LastStep);
            Assert.Equal(1.0 / 2000, info.Summary.GetProperty("loss").GetDouble());
        }
    }

    private static System.Text.Json.JsonElement Values(int step) =>
        System.Text.Json.JsonDocument.Parse(string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""{"loss":{{1.0 / (step + 1)}}}""")).RootElement.Clone();

    private async Task<LiftoffClient> SetUpQueueAsync()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process"}""")).JsonAsync(HttpStatusCode.Created);
        return server.Client(key);
    }
}
