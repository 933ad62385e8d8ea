using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Launch;
using Liftoff.Server.Storage;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Postgres;

/// <summary>Two servers in this process on one PostgreSQL schema, as two replicas behind a load balancer would be.</summary>
public sealed class ReplicaTests(PostgresServerFixture a) : IClassFixture<PostgresServerFixture>
{
    [Fact]
    public async Task TwoServers_OnOneDatabase_SeeEachOthersWrites()
    {
        await using var b = await a.StartServerAsync();
        var key = await a.NewUserKeyAsync();
        using var onA = a.Client(key);
        using var onB = new LiftoffClient(new LiftoffSettings(b.BaseUrl, key));

        var run = await onA.InitRunAsync(new InitRunRequest("p", Config: Json("""{"lr":0.1}""")));
        await onB.AppendHistoryAsync(run.Id, [new HistoryRow(0, Json("""{"loss":1}"""))]);
        await onA.AppendHistoryAsync(run.Id, [new HistoryRow(1, Json("""{"loss":0.5}"""))]);
        await onB.FinishRunAsync(run.Id, 0);

        Assert.Null(b.InitialAdminKey);
        var seen = await onA.GetRunAsync(run.Id);
        Assert.Equal(("finished", 1L), (seen.State, seen.LastStep));
        Assert.Equal([0L, 1], (await onB.ReadHistoryAsync(run.Id).ToListAsync()).Select(r => r.Step));
        Assert.Equal([run.Id], (await onB.ListRunsAsync()).Runs.Select(r => r.Id));
    }

    [Fact]
    public async Task Claim_WaitingOnServerA_ReturnsTheItemEnqueuedOnServerB()
    {
        await using var b = await a.StartServerAsync();
        var key = await SetUpQueueAsync();
        using var onA = a.Client(key);
        using var onB = new LiftoffClient(new LiftoffSettings(b.BaseUrl, key));
        var agent = await onA.RegisterAgentAsync(new RegisterAgentRequest("agent", ["q"]));

        var waiting = onA.ClaimAsync(agent.Id, TimeSpan.FromSeconds(60));
        var item = await onB.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var claim = await waiting.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(item.Id, claim?.Item.Id);
    }

    [Fact]
    public async Task EnqueueOnServerB_WakesTheClaimsWaitingOnServerA_ThroughNotify()
    {
        await using var b = await a.StartServerAsync();
        var name = "u" + Guid.NewGuid().ToString("N")[..12];
        var key = await SetUpQueueAsync(name);
        using var onB = new LiftoffClient(new LiftoffSettings(b.BaseUrl, key));
        var services = a.Server.Services;
        var entity = (await services.GetRequiredService<IIdentityStore>().FindEntityAsync(name, default))!;
        var queue = (await services.GetRequiredService<IQueueStore>().GetQueueAsync(entity.Id, "q", default))!;
        await services.GetRequiredService<PostgresQueueListener>().Listening.WaitAsync(TimeSpan.FromSeconds(30));

        // Server A's own enqueue path never runs here: only B's NOTIFY, through A's listener, can complete this.
        var change = services.GetRequiredService<QueueSignals>().NextChange([queue.Id]);
        await onB.EnqueueAsync("q", new EnqueueRequest("train", "p"));

        await change.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private async Task<string> SetUpQueueAsync(string? name = null)
    {
        var key = await a.NewUserKeyAsync(name);
        using var http = a.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        using var client = a.Client(key);
        await client.CreateQueueAsync(new CreateQueueRequest("q", Resources.LocalProcess));
        return key;
    }

    private static System.Text.Json.JsonElement Json(string json) => System.Text.Json.JsonDocument.Parse(json).RootElement.Clone();
}
