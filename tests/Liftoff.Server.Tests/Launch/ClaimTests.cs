using System.Net;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

public sealed class ClaimTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Claim_HandsOutThePendingItemWithAPendingRunAndARunScopedKey()
    {
        var (key, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p", Config: Json("""{"lr":0.5}""")));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));

        var claim = await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));

        Assert.NotNull(claim);
        Assert.Equal(item.Id, claim.Item.Id);
        Assert.Equal("leased", claim.Item.State);
        Assert.Equal(1, claim.Spec.Attempt);
        var run = await client.GetRunAsync(claim.Spec.RunId);
        Assert.Equal("pending", run.State);
        Assert.Equal(0.5, run.Config.GetProperty("lr").GetDouble());
        var runKey = claim.Spec.Environment["LIFTOFF_API_KEY"];
        using var jobClient = server.Client(runKey);
        var attached = await jobClient.InitRunAsync(new InitRunRequest("p", Id: claim.Spec.RunId));
        Assert.Equal("running", attached.State);
        using var jobHttp = server.Http(runKey);
        await (await jobHttp.GetAsync("/api/v1/runs")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await jobHttp.GetAsync("/api/v1/queues")).ProblemAsync(HttpStatusCode.Forbidden);
        var other = await client.InitRunAsync(new InitRunRequest("p"));
        await (await jobHttp.GetAsync($"/api/v1/runs/{other.Id}")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await jobHttp.PostJsonAsync("/api/v1/runs", """{"project":"p"}""")).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Null(await client.ClaimAsync(agent.Id, TimeSpan.Zero));

        await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "running"));
        var done = await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "finished"));

        Assert.Equal("finished", done.State);
        await (await jobHttp.GetAsync($"/api/v1/runs/{claim.Spec.RunId}")).ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.DoesNotContain(runKey, (await (await server.Http(key).GetAsync("/api/v1/keys")).Content.ReadAsStringAsync()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DescribeJob_ListsTheRunsItsLaunchesStarted()
    {
        var (key, client) = await SetUpAsync();
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));
        using var http = server.Http(key);

        var job = await (await http.GetAsync("/api/v1/jobs/p/train")).JsonAsync();

        Assert.Equal([claim!.Spec.RunId], job.GetProperty("runs").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task Claim_WaitingOnAnEmptyQueue_ReturnsTheItemEnqueuedDuringTheWait()
    {
        var (_, client) = await SetUpAsync();
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));

        var waiting = client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(30));
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var claim = await waiting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(item.Id, claim?.Item.Id);
    }

    [Fact]
    public async Task ItemCalls_WithStaleAttemptOrImpossibleTransition_Are409()
    {
        var (_, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));

        var stale = await Assert.ThrowsAsync<LiftoffException>(() => client.ItemHeartbeatAsync(item.Id, 2));
        var backwards = await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "running"));
        var impossible = await Assert.ThrowsAsync<LiftoffException>(() => client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "starting")));
        var unasked = await Assert.ThrowsAsync<LiftoffException>(() => client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "cancelled")));

        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Contains("drop this workload", stale.Message, StringComparison.Ordinal);
        Assert.Equal("running", backwards.State);
        Assert.Equal(HttpStatusCode.Conflict, impossible.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, unasked.StatusCode);
    }

    [Fact]
    public async Task Failure_IsRecordedWithPhaseAndMessage_AndTheNeverStartedRunFails()
    {
        var (_, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));

        var failed = await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "failed", "build", "pip: no matching distribution for torch==9"));

        Assert.Equal(("failed", "build", "pip: no matching distribution for torch==9"), (failed.State, failed.Phase, failed.Error));
        Assert.Equal("failed", (await client.GetRunAsync(claim!.Spec.RunId)).State);
    }

    [Fact]
    public async Task Cancel_PendingEndsAtOnce_HeldWaitsForTheAgentAndKillsTheRun()
    {
        var (_, client) = await SetUpAsync();
        var held = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var pending = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));
        await client.ReportItemAsync(held.Id, new ItemProgressRequest(1, "running"));

        var cancelledAtOnce = await client.CancelItemAsync(pending.Id);
        var stopping = await client.CancelItemAsync(held.Id);
        var beat = await client.ItemHeartbeatAsync(held.Id, 1);
        var cancelled = await client.ReportItemAsync(held.Id, new ItemProgressRequest(1, "cancelled"));

        Assert.Equal("cancelled", cancelledAtOnce.State);
        Assert.Equal("stopping", stopping.State);
        Assert.True(beat.CancelRequested);
        Assert.Equal("cancelled", cancelled.State);
        Assert.Equal("killed", (await client.GetRunAsync(claim!.Spec.RunId)).State);
    }

    [Fact]
    public async Task RunsStop_OnALaunchedRun_AsksItsAgentToStop()
    {
        var (_, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5));

        await client.StopRunAsync(claim!.Spec.RunId);

        Assert.True((await client.ItemHeartbeatAsync(item.Id, 1)).CancelRequested);
        Assert.Equal("killed", (await client.GetRunAsync(claim.Spec.RunId)).State);
    }

    [Fact]
    public async Task Release_RequeuesWithoutCountingAnAttempt_KillsTheRunSayingWhy_AndFencesTheEarlierHolder()
    {
        var (key, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var first = (await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5)))!;
        await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, "running"));
        using (var jobHttp = server.Http(first.Spec.Environment["LIFTOFF_API_KEY"]))
        {
            var body = $$"""{"attempt":1,"run_id":"{{first.Spec.RunId}}"}""";
            await (await jobHttp.PostJsonAsync($"/api/v1/items/{item.Id}/release", body)).ProblemAsync(HttpStatusCode.Forbidden);
        }

        var released = await client.ReleaseItemAsync(item.Id, new ItemReleaseRequest(1, first.Spec.RunId));

        Assert.Equal(("pending", 1, null), (released.State, released.Attempt, released.RunId));
        Assert.Equal("killed", (await client.GetRunAsync(first.Spec.RunId)).State);
        var lines = new List<NumberedLogLine>();
        await foreach (var line in client.ReadLogsAsync(first.Spec.RunId))
        {
            lines.Add(line);
        }

        Assert.Equal("[liftoff] the agent shut down; requeued", Assert.Single(lines).Text);
        Assert.Equal("pending", (await client.ReleaseItemAsync(item.Id, new ItemReleaseRequest(1, first.Spec.RunId))).State);
        var second = (await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5)))!;
        Assert.Equal((item.Id, 1), (second.Item.Id, second.Spec.Attempt));
        Assert.NotEqual(first.Spec.RunId, second.Spec.RunId);
        var stale = await Assert.ThrowsAsync<LiftoffException>(() => client.ReleaseItemAsync(item.Id, new ItemReleaseRequest(1, first.Spec.RunId)));
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Null(stale.ProblemType);
        Assert.Equal("leased", (await client.GetItemAsync(item.Id)).State);
        using var http = server.Http(key);
        foreach (var body in new[] { """{"attempt":1}""", """{"attempt":1,"run_id":""}""" })
        {
            var problem = await (await http.PostJsonAsync($"/api/v1/items/{item.Id}/release", body)).ProblemAsync(HttpStatusCode.BadRequest);
            Assert.Contains("run_id", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task StoppedAgent_ClaimsNothing()
    {
        var (_, client) = await SetUpAsync();
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));

        await client.StopAgentAsync(agent.Id);

        var refused = await Assert.ThrowsAsync<LiftoffException>(() => client.ClaimAsync(agent.Id, TimeSpan.Zero));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal(ProblemTypes.AgentStopRequested, refused.ProblemType);
        Assert.True((await client.AgentHeartbeatAsync(agent.Id, new AgentHeartbeatRequest("polling", 0))).StopRequested);
    }

    [Fact]
    public async Task Claim_WhenFourAgentsRace_HandsOutEachOfTwoThousandItemsOnce()
    {
        var (_, client) = await SetUpAsync();

        var (enqueued, claimed) = await QueueRace.RunAsync(client, items: 2000, agents: 4);

        Assert.Equal(2000, claimed.Count);
        Assert.Equal(enqueued, claimed);
        Assert.Equal(2000, (await client.GetQueueAsync("q")).Items["finished"]);
    }

    private async Task<(string Key, LiftoffClient Client)> SetUpAsync()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train", configDefaults: """{"lr":0.1}""");
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process"}""")).JsonAsync(HttpStatusCode.Created);
        return (key, server.Client(key));
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
