using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

/// <summary>
/// What leases and claim waits look like over HTTP, on a server clock the test moves. The expiry rules themselves are
/// in the store contract (StoreContract.Leases.cs); these check that the API and the server's reaper apply them.
/// </summary>
public sealed class LeaseTests(FakeClockServerFixture server) : IClassFixture<FakeClockServerFixture>
{
    [Fact]
    public async Task ExpiredLease_RefusesTheOldAttemptWith409_AndTheNextClaimIsTheNextAttempt()
    {
        var client = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var first = await client.RegisterAgentAsync(new RegisterAgentRequest("dies", ["q"]));
        var claim = await client.ClaimAsync(first.Id, TimeSpan.FromSeconds(5));
        await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "running"));

        server.Clock.Advance(claim!.LeaseExpiresAt - server.Clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        var requeued = await Poll.UntilAsync(() => client.GetItemAsync(item.Id), i => i.State == "pending", TimeSpan.FromSeconds(30), "the server's reaper to expire the lease");

        Assert.Equal(2, requeued.Attempt);
        Assert.Equal("crashed", (await client.GetRunAsync(claim.Spec.RunId)).State);
        var late = await Assert.ThrowsAsync<LiftoffException>(() => client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "finished")));
        var beat = await Assert.ThrowsAsync<LiftoffException>(() => client.ItemHeartbeatAsync(item.Id, 1));
        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict), (late.StatusCode, beat.StatusCode));
        Assert.Contains("drop this workload", beat.Message, StringComparison.Ordinal);
        var second = await client.RegisterAgentAsync(new RegisterAgentRequest("survives", ["q"]));
        // Past the backoff by more than a reaper period, so that a tick of the reaper sees it over.
        server.Clock.Advance(requeued.ClaimableAt!.Value - server.Clock.GetUtcNow() + TimeSpan.FromSeconds(10));
        await Poll.UntilAsync(() => client.GetItemAsync(item.Id), i => i.ClaimableAt is null, TimeSpan.FromSeconds(30), "the reaper to end the backoff");
        var retry = await client.ClaimAsync(second.Id, TimeSpan.FromSeconds(5));
        Assert.Equal((item.Id, 2), (retry!.Item.Id, retry.Spec.Attempt));
        Assert.NotEqual(claim.Spec.RunId, retry.Spec.RunId);
        Assert.Equal("finished", (await client.ReportItemAsync(item.Id, new ItemProgressRequest(2, "finished"))).State);
    }

    [Fact]
    public async Task ItemHeartbeat_RenewsTheLease_WhileTheSilentAgentsItemComesBack()
    {
        var client = await SetUpAsync();
        var kept = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var lost = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var claim = await client.ClaimAsync((await client.RegisterAgentAsync(new RegisterAgentRequest("alive", ["q"]))).Id, TimeSpan.FromSeconds(5));
        await client.ClaimAsync((await client.RegisterAgentAsync(new RegisterAgentRequest("silent", ["q"]))).Id, TimeSpan.FromSeconds(5));
        var lease = claim!.LeaseExpiresAt - server.Clock.GetUtcNow();

        server.Clock.Advance(lease * 2 / 3);
        var renewed = await client.ItemHeartbeatAsync(kept.Id, 1);
        Assert.Equal(server.Clock.GetUtcNow() + lease, renewed.LeaseExpiresAt);
        server.Clock.Advance(lease * 2 / 3);
        await Poll.UntilAsync(() => client.GetItemAsync(lost.Id), i => i.State == "pending", TimeSpan.FromSeconds(30), "the silent agent's item to come back");

        Assert.Equal("leased", (await client.GetItemAsync(kept.Id)).State);
    }

    [Fact]
    public async Task ItemHeartbeat_WaitingReason_IsSetByTheAgentsKeyNotTheRunsKey_ShownOnTheItem_AndOneShortLine()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process","max_attempts":2}""")).JsonAsync(HttpStatusCode.Created);
        using var client = server.Client(key);
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var claim = await client.ClaimAsync((await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]))).Id, TimeSpan.FromSeconds(5));
        await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "running"));
        using var launched = server.Client(claim!.Spec.Environment["LIFTOFF_API_KEY"]);

        var byRun = await Assert.ThrowsAsync<LiftoffException>(() => launched.ItemHeartbeatAsync(item.Id, new ItemHeartbeatRequest(1, "Resources")));
        var tooLong = await Assert.ThrowsAsync<LiftoffException>(() => client.ItemHeartbeatAsync(item.Id, new ItemHeartbeatRequest(1, new string('x', 201))));
        var twoLines = await Assert.ThrowsAsync<LiftoffException>(() => client.ItemHeartbeatAsync(item.Id, new ItemHeartbeatRequest(1, "Resources\nfake line")));
        Assert.Equal(HttpStatusCode.Forbidden, byRun.StatusCode);
        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (tooLong.StatusCode, twoLines.StatusCode));
        Assert.Contains("waiting_reason", tooLong.Message, StringComparison.Ordinal);
        Assert.Null((await client.GetItemAsync(item.Id)).WaitingReason);

        await client.ItemHeartbeatAsync(item.Id, new ItemHeartbeatRequest(1, "PartitionDown"));

        Assert.Equal("PartitionDown", (await client.GetItemAsync(item.Id)).WaitingReason);
        var json = await (await http.GetAsync(new Uri($"/api/v1/items/{item.Id}", UriKind.Relative))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("PartitionDown", json.GetProperty("waiting_reason").GetString());
        await client.ItemHeartbeatAsync(item.Id, new ItemHeartbeatRequest(1, null));
        Assert.Null((await client.GetItemAsync(item.Id)).WaitingReason);
    }

    [Fact]
    public async Task Claim_OnAnEmptyQueue_ReturnsNothingOnceTheWaitHasPassedOnTheServersClock()
    {
        var client = await SetUpAsync();
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));

        var wait = TimeSpan.FromSeconds(30);
        var waiting = client.ClaimAsync(agent.Id, wait);
        // The server reads the deadline when the request arrives, which the test cannot see: move the clock a whole
        // wait at a time until the claim answers, so one step at most comes too early to count.
        await Poll.UntilAsync(() =>
        {
            server.Clock.Advance(wait);
            return Task.FromResult(waiting.IsCompleted);
        }, done => done, TimeSpan.FromSeconds(30), "the claim's wait to end");

        Assert.Null(await waiting);
    }

    [Fact]
    public async Task AgentList_WhenAnAgentMissesThreeHeartbeatIntervals_ShowsItOfflineWithWhenItWasLastSeen()
    {
        var client = await SetUpAsync();
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var dead = await client.RegisterAgentAsync(new RegisterAgentRequest("killed", ["q"]));
        var stopped = await client.RegisterAgentAsync(new RegisterAgentRequest("stopped", ["q"]));
        var claim = await client.ClaimAsync(dead.Id, TimeSpan.FromSeconds(5));
        await client.AgentHeartbeatAsync(dead.Id, new AgentHeartbeatRequest(AgentStates.Running, 1));
        await client.AgentHeartbeatAsync(stopped.Id, new AgentHeartbeatRequest(AgentStates.Stopped, 0));
        var lastSeen = server.Clock.GetUtcNow();
        var threeIntervals = claim!.LeaseExpiresAt - lastSeen;

        server.Clock.Advance(threeIntervals);
        var justInTime = (await client.ListAgentsAsync()).Agents.Single(a => a.Id == dead.Id);
        server.Clock.Advance(TimeSpan.FromMinutes(12) - threeIntervals);
        var agents = (await client.ListAgentsAsync()).Agents;
        var queue = await client.GetQueueAsync("q");

        Assert.Equal(AgentStates.Running, justInTime.State);
        var offline = agents.Single(a => a.Id == dead.Id);
        Assert.Equal((AgentStates.Offline, lastSeen), (offline.State, offline.LastHeartbeatAt));
        Assert.Equal(AgentStates.Stopped, agents.Single(a => a.Id == stopped.Id).State);
        Assert.Equal(AgentStates.Offline, queue.Agents.Single(a => a.Id == dead.Id).State);
    }

    private async Task<LiftoffClient> SetUpAsync()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process","max_attempts":2}""")).JsonAsync(HttpStatusCode.Created);
        return server.Client(key);
    }
}
