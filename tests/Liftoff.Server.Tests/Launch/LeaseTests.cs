using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

/// <summary>Leases of one second, so a silent agent's items come back quickly.</summary>
public sealed class LeaseTests(ShortLeaseServerFixture server) : IClassFixture<ShortLeaseServerFixture>
{
    [Fact]
    public async Task ExpiredLease_ReturnsTheItemAsANewAttempt_CrashesTheRun_AndFencesTheOldAttempt()
    {
        var client = await SetUpAsync("""{"name":"q","resource":"local-process","max_attempts":2}""");
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var first = await client.RegisterAgentAsync(new RegisterAgentRequest("dies", ["q"]));
        var claim = await client.ClaimAsync(first.Id, TimeSpan.FromSeconds(5));
        await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "running"));

        var requeued = await Poll.UntilAsync(() => client.GetItemAsync(item.Id), i => i.State == "pending", TimeSpan.FromSeconds(30), "the lease to expire");

        Assert.Equal(2, requeued.Attempt);
        Assert.Equal("crashed", (await client.GetRunAsync(claim!.Spec.RunId)).State);
        var late = await Assert.ThrowsAsync<LiftoffException>(() => client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "finished")));
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        var second = await client.RegisterAgentAsync(new RegisterAgentRequest("survives", ["q"]));
        var retry = await client.ClaimAsync(second.Id, TimeSpan.FromSeconds(5));
        Assert.Equal((item.Id, 2), (retry!.Item.Id, retry.Spec.Attempt));
        Assert.NotEqual(claim.Spec.RunId, retry.Spec.RunId);
        Assert.Equal("finished", (await client.ReportItemAsync(item.Id, new ItemProgressRequest(2, "finished"))).State);
    }

    [Fact]
    public async Task ExpiredLease_OnTheLastAttempt_FailsTheItemSayingWhy()
    {
        var client = await SetUpAsync("""{"name":"q","resource":"local-process","max_attempts":1}""");
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("dies", ["q"]));
        await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));

        var failed = await Poll.UntilAsync(() => client.GetItemAsync(item.Id), i => i.State == "failed", TimeSpan.FromSeconds(30), "the last attempt to fail");

        Assert.Contains("lease expired", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeats_KeepTheLease()
    {
        var client = await SetUpAsync("""{"name":"q","resource":"local-process"}""");
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("alive", ["q"]));
        await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));
        var other = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var silent = await client.RegisterAgentAsync(new RegisterAgentRequest("silent", ["q"]));
        await client.ClaimAsync(silent.Id, TimeSpan.FromSeconds(5));

        await Poll.UntilAsync(async () =>
        {
            await client.ItemHeartbeatAsync(item.Id, 1);
            return (await client.GetItemAsync(other.Id)).State;
        }, s => s == "pending", TimeSpan.FromSeconds(30), "the silent agent's item to come back while the other heartbeats");

        Assert.Equal("leased", (await client.GetItemAsync(item.Id)).State);
    }

    [Fact]
    public async Task StartTimeout_FailsAnItemThatNeverReachesRunning()
    {
        var client = await SetUpAsync("""{"name":"q","resource":"local-process","start_timeout_seconds":1}""");
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("slow", ["q"]));
        await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));
        await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "starting"));

        var failed = await Poll.UntilAsync(async () =>
        {
            try
            {
                await client.ItemHeartbeatAsync(item.Id, 1);
            }
            catch (LiftoffException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
            {
                // The item failed between the read and the heartbeat.
            }

            return await client.GetItemAsync(item.Id);
        }, i => i.State == "failed", TimeSpan.FromSeconds(30), "the start timeout");

        Assert.Equal("start", failed.Phase);
        Assert.Contains("start timeout", failed.Error, StringComparison.Ordinal);
    }

    private async Task<LiftoffClient> SetUpAsync(string queue)
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", queue)).JsonAsync(HttpStatusCode.Created);
        return server.Client(key);
    }
}
