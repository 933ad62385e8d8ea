using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

/// <summary>Queue control and "why is it waiting" over HTTP (issue #17): moves, pause and resume, and each pending item's place.</summary>
public sealed class QueueControlApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task MoveItem_ToTheTop_IsTheListsOrder_WithPlacesCountedFromTheHead_AndTheHistoryAndAuditRecordIt()
    {
        var (user, client) = await SetUpAsync();
        var a = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var c = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));

        var moved = await client.MoveItemAsync(c.Id, new MoveItemRequest(To: MoveTargets.Top));

        Assert.Equal((1L, WaitReasons.NoAgent, "1st in line on q; no agent polls q"), (moved.Place!.Position, moved.Place.Reason, moved.Place.Message));
        var items = (await client.ListItemsAsync("q")).Items;
        Assert.Equal([c.Id, a.Id], items.Take(2).Select(i => i.Id));
        Assert.Equal([1L, 2L, 3L], items.Select(i => i.Place!.Position));
        Assert.Equal($"moved to the top of its priority by {user}", (await client.GetItemHistoryAsync(c.Id)).Events[^1].Message);
        var audited = Assert.Single((await client.ListAuditAsync(action: "item.move")).Entries);
        Assert.Equal((c.Id, "ok"), (audited.Object, audited.Outcome));
    }

    [Theory]
    [InlineData("""{"to":"middle"}""", "to")]
    [InlineData("""{"to":"top","before":"x"}""", "to")]
    [InlineData("""{}""", "to")]
    [InlineData("""{"priority":"urgent"}""", "priority")]
    [InlineData("""{"before":"x","priority":"high"}""", "priority")]
    [InlineData("""{"queue":"none"}""", "queue")]
    [InlineData("""{"queue":"elsewhere"}""", "queue")]
    public async Task MoveItem_BadRequest_Is400NamingTheField_AndMovesNothing(string body, string field)
    {
        var (_, key, client) = await SetUpWithKeyAsync();
        using var http = server.Http(key);
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"elsewhere","resource":"docker"}""")).JsonAsync(HttpStatusCode.Created);
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));

        var problem = await (await http.PostJsonAsync($"/api/v1/items/{item.Id}/move", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Single((await client.GetItemHistoryAsync(item.Id)).Events);
    }

    [Fact]
    public async Task MoveItem_OnceAClaimTookIt_Is409NamingTheState()
    {
        var (_, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        await client.ClaimAsync(agent.Id, TimeSpan.Zero);

        var refused = await Assert.ThrowsAsync<LiftoffException>(() => client.MoveItemAsync(item.Id, new MoveItemRequest(To: MoveTargets.Bottom)));

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains($"item {item.Id} is leased", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PauseQueue_AgentsClaimNothing_ItemsWaitWithThatReason_UntilItResumes()
    {
        var (_, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));

        var paused = await client.PauseQueueAsync("q");

        Assert.True(paused.Paused);
        Assert.Null(await client.ClaimAsync(agent.Id, TimeSpan.Zero));
        var waiting = Assert.Single((await client.ListItemsAsync("q")).Items);
        Assert.Equal((ItemStates.Pending, WaitReasons.QueuePaused), (waiting.State, waiting.Place!.Reason));
        Assert.Equal("queue q is paused; 1st in line on q once it resumes", (await client.GetItemAsync(item.Id)).Place!.Message);

        Assert.False((await client.PauseQueueAsync("q", paused: false)).Paused);
        Assert.Equal(item.Id, (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!.Item.Id);
        Assert.Equal(["queue.pause", "queue.resume"], (await client.ListAuditAsync()).Entries.Where(e => e.Action.StartsWith("queue.p", StringComparison.Ordinal) || e.Action == "queue.resume").Select(e => e.Action).Reverse());
    }

    [Fact]
    public async Task Enqueue_TellsThePlace_AgentsBusy_ThenHigherPriorityItemsAhead()
    {
        var (_, client) = await SetUpAsync();
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        await client.ClaimAsync(agent.Id, TimeSpan.Zero);
        await client.AgentHeartbeatAsync(agent.Id, new AgentHeartbeatRequest(AgentStates.Running, 1));

        await client.EnqueueAsync("q", new EnqueueRequest("train", "p", Priority: Priorities.High));
        var second = await client.EnqueueAsync("q", new EnqueueRequest("train", "p", Priority: Priorities.High));
        var low = await client.EnqueueAsync("q", new EnqueueRequest("train", "p", Priority: Priorities.Low));

        Assert.Equal((2L, WaitReasons.AgentsBusy, "2nd in line on q; 1 agent polling, busy"), (second.Place!.Position, second.Place.Reason, second.Place.Message));
        Assert.Equal((3L, WaitReasons.HigherPriority, "3rd in line on q; 2 higher-priority items ahead; 1 agent polling, busy"), (low.Place!.Position, low.Place.Reason, low.Place.Message));
    }

    private async Task<(string User, LiftoffClient Client)> SetUpAsync()
    {
        var (user, _, client) = await SetUpWithKeyAsync();
        return (user, client);
    }

    private async Task<(string User, string Key, LiftoffClient Client)> SetUpWithKeyAsync()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process"}""")).JsonAsync(HttpStatusCode.Created);
        var client = server.Client(key);
        return ((await client.GetViewerAsync()).Entity, key, client);
    }
}
