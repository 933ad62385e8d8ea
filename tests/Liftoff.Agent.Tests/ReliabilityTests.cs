using System.Collections.Concurrent;
using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

public sealed class ReliabilityTests(AgentServerFixture server) : IClassFixture<AgentServerFixture>
{
    private static readonly string[] PythonTrain = ["python", "train.py"];

    [Fact]
    public async Task Claim_WhenFourAgentsCompeteForTwoThousandItems_RunsEveryItemExactlyOnce()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using (var http = server.Http(harness.Key))
        {
            await TestJobs.CreateRepoJobAsync(http, AgentHarness.Project, "noop");
        }

        const int Items = 2_000;
        var enqueued = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Items), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            enqueued.Add((await harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest("noop", AgentHarness.Project, IdempotencyKey: $"item-{i}"), ct)).Id));

        // Four agents speaking the agent protocol (claim, starting, running, finished) with no workload between.
        var claims = new ConcurrentBag<(string Agent, string Item, int Attempt, string Run)>();
        var agents = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => harness.Client.RegisterAgentAsync(new RegisterAgentRequest($"racer-{i}", [harness.Queue]))));
        await Task.WhenAll(agents.Select(agent => Task.Run(async () =>
        {
            using var client = server.Client(harness.Key);
            while (await client.ClaimAsync(agent.Id, TimeSpan.Zero) is { } claim)
            {
                claims.Add((agent.Id, claim.Item.Id, claim.Spec.Attempt, claim.Spec.RunId));
                foreach (var state in (string[])[ItemStates.Starting, ItemStates.Running, ItemStates.Finished])
                {
                    await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(claim.Spec.Attempt, state, ExitCode: state == ItemStates.Finished ? 0 : null));
                }
            }
        })));

        Assert.Equal(Items, enqueued.Distinct().Count());
        Assert.Equal(Items, claims.Count);
        Assert.Equal(enqueued.Order(), claims.Select(c => c.Item).Order());
        Assert.Equal(Items, claims.Select(c => c.Run).Distinct().Count());
        Assert.All(claims, c => Assert.Equal(1, c.Attempt));
        Assert.True(claims.Select(c => c.Agent).Distinct().Count() > 1, "the agents did not compete");
        var ended = new ConcurrentBag<ItemInfo>();
        await Parallel.ForEachAsync(enqueued, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) => ended.Add(await harness.Client.GetItemAsync(id, ct)));
        Assert.All(ended, i => Assert.True(i.State == ItemStates.Finished && i.Attempt == 1, $"{i.Id}: {i.State} attempt {i.Attempt}"));
    }

    [Fact]
    public async Task Agents_WhenFourRealAgentsShareAQueue_RunEveryItemOnce()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var job = await harness.CreateJobAsync("trivial", new Dictionary<string, string>
        {
            ["train.py"] = "import liftoff\nrun = liftoff.init()\nprint('ran', run.id)\nliftoff.finish()\n",
        }, PythonTrain);
        for (var i = 0; i < 4; i++)
        {
            await harness.StartAgentAsync(harness.Options(maxJobs: 2, name: $"agent-{i}"));
        }

        var items = new List<ItemInfo>();
        for (var i = 0; i < 24; i++)
        {
            items.Add(await harness.EnqueueAsync(job));
        }

        foreach (var item in items)
        {
            var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "every item to end", 120);
            Assert.True(done.State == ItemStates.Finished && done.Attempt == 1, $"{done.Id}: {done.State} attempt {done.Attempt}: {done.Error}");
        }

        var runs = await harness.Client.ListRunsAsync(AgentHarness.Project, limit: 100);
        Assert.Equal(items.Count, runs.Runs.Count);
        Assert.All(runs.Runs, r => Assert.Equal(RunStates.Finished, r.State));
    }

    [Fact]
    public async Task Agent_WhenKilledMidRun_ItsItemReturnsAfterTheLeaseAndAnotherAgentCompletesIt()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var marker = Path.Combine(marks.Path, "first-attempt");
        var job = await harness.CreateJobAsync("resumable", new Dictionary<string, string>
        {
            ["train.py"] = $$"""
                import os, time
                import liftoff
                run = liftoff.init()
                marker = {{System.Text.Json.JsonSerializer.Serialize(marker)}}
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    time.sleep(300)
                print("second attempt completes")
                liftoff.finish()
                """,
        }, PythonTrain);
        var item = await harness.EnqueueAsync(job);
        using var first = AgentProcess.Start(server.BaseUrl, harness.Key, "--queue", harness.Queue, "--name", "doomed", "--work-dir", Path.Combine(harness.Work.Path, "doomed"));
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running && File.Exists(marker), "the first attempt to run");
        await Poll.UntilAsync(() => harness.Client.GetRunAsync(running.RunId!), r => r.State == RunStates.Running, TimeSpan.FromSeconds(30), "the first run to call init");

        first.Signal("KILL");
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));

        var returned = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Pending, "the lease to expire");
        Assert.Equal(2, returned.Attempt);
        Assert.Equal(RunStates.Crashed, (await harness.Client.GetRunAsync(running.RunId!)).State);
        var late = await Assert.ThrowsAsync<LiftoffException>(() => harness.Client.ItemHeartbeatAsync(item.Id, running.Attempt));
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        var lateReport = await Assert.ThrowsAsync<LiftoffException>(() => harness.Client.ReportItemAsync(item.Id, new ItemProgressRequest(running.Attempt, ItemStates.Finished, ExitCode: 0)));
        Assert.Equal(HttpStatusCode.Conflict, lateReport.StatusCode);

        await harness.StartAgentAsync();
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the second attempt to end");
        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}");
        Assert.Equal(2, done.Attempt);
        Assert.NotEqual(running.RunId, done.RunId);
        Assert.Contains("second attempt completes", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.Equal(RunStates.Crashed, (await harness.Client.GetRunAsync(running.RunId!)).State);
    }
}
