using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

public sealed class ShutdownTests(AgentServerFixture server) : IClassFixture<AgentServerFixture>
{
    private static readonly string[] PythonTrain = ["python", "train.py"];

    [Fact]
    public async Task ExecuteAsync_WhenStoppedWithoutDrain_StopsTheWorkloadAndHandsTheItemBack()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var job = await harness.CreateJobAsync("long", Script(marks, "time.sleep(300)"), PythonTrain);
        var agent = await harness.StartAgentAsync();
        var item = await harness.EnqueueAsync(job);
        var pid = await StartedAsync(harness, marks, item);
        var runId = (await harness.Client.GetItemAsync(item.Id)).RunId!;

        await agent.Stopping.CancelAsync();
        await agent.Run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(Processes.IsAlive(pid), "the workload outlived the agent");
        await AssertReleasedAsync(harness, item.Id, runId);
    }

    [Fact]
    public async Task AgentCommand_OnSigterm_ReleasesTheItemAtOnce_AndAnotherAgentRunsIt()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var go = Path.Combine(marks.Path, "go");
        var job = await harness.CreateJobAsync("released", Script(marks, $"""
            while not os.path.exists({JsonSerializer.Serialize(go)}):
                time.sleep(0.05)
            """), PythonTrain);
        using var agent = AgentProcess.Start(server.BaseUrl, harness.Key, "--queue", harness.Queue, "--work-dir", harness.Work.Path);
        var item = await harness.EnqueueAsync(job);
        var pid = await StartedAsync(harness, marks, item);
        var runId = (await harness.Client.GetItemAsync(item.Id)).RunId!;

        agent.Signal("TERM");

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(Processes.IsAlive(pid), "the workload outlived the agent");
        Assert.Contains($"Handed item {item.Id} back", agent.Output, StringComparison.Ordinal);
        await AssertReleasedAsync(harness, item.Id, runId);
        await File.WriteAllTextAsync(go, "");
        await harness.StartAgentAsync();
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "another agent to run the item");
        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}");
        Assert.Equal(1, done.Attempt);
        Assert.NotEqual(runId, done.RunId);
    }

    [Fact]
    public async Task ExecuteAsync_WhenStoppedWithDrain_WaitsForRunningWorkToFinish()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var go = Path.Combine(marks.Path, "go");
        var job = await harness.CreateJobAsync("drained", Script(marks, $"""
            while not os.path.exists({JsonSerializer.Serialize(go)}):
                time.sleep(0.05)
            """), PythonTrain);
        var agent = await harness.StartAgentAsync(harness.Options(drain: true));
        var item = await harness.EnqueueAsync(job);
        await StartedAsync(harness, marks, item);

        await agent.Stopping.CancelAsync();
        await Poll.UntilAsync(() => harness.Client.ListAgentsAsync(), l => l.Agents.Single(a => a.Id == agent.Id).State == AgentStates.Stopping, TimeSpan.FromSeconds(30), "the agent to report stopping");
        Assert.False(agent.Run.IsCompleted);
        Assert.Equal(ItemStates.Running, (await harness.Client.GetItemAsync(item.Id)).State);
        await File.WriteAllTextAsync(go, "");

        await agent.Run.WaitAsync(TimeSpan.FromSeconds(30));
        var done = await harness.Client.GetItemAsync(item.Id);
        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}");
        Assert.Equal(AgentStates.Stopped, (await harness.Client.ListAgentsAsync()).Agents.Single(a => a.Id == agent.Id).State);
    }

    [Fact]
    public async Task ExecuteAsync_OnTheSecondSignal_StopsADrainingAgentAtOnce()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var job = await harness.CreateJobAsync("deaf", Script(marks, "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(300)"), PythonTrain);
        var options = harness.Options(drain: true);
        options.StopGracePeriod = TimeSpan.FromMinutes(5);
        var agent = await harness.StartAgentAsync(options);
        var item = await harness.EnqueueAsync(job);
        var pid = await StartedAsync(harness, marks, item);

        await agent.Stopping.CancelAsync();
        await Poll.UntilAsync(() => harness.Client.ListAgentsAsync(), l => l.Agents.Single(a => a.Id == agent.Id).State == AgentStates.Stopping, TimeSpan.FromSeconds(30), "the agent to report stopping");
        Assert.True(Processes.IsAlive(pid));
        await agent.Shutdown.CancelAsync();

        await agent.Run.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.False(Processes.IsAlive(pid), "the workload outlived the second signal");
    }

    [Fact]
    public async Task ExecuteAsync_WhenAnOperatorStopsTheAgent_StopsClaimingAndEnds()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var agent = await harness.StartAgentAsync();

        await harness.Client.StopAgentAsync(agent.Id);

        await agent.Run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(AgentStates.Stopped, (await harness.Client.ListAgentsAsync()).Agents.Single(a => a.Id == agent.Id).State);
    }

    [Fact]
    public async Task ExecuteAsync_WhenAClaimMeetsAnOther409_KeepsClaimingUntilTheStopSignal()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var job = await harness.CreateJobAsync("quick", new Dictionary<string, string> { ["train.py"] = "import liftoff\nliftoff.init()\nliftoff.finish()\n" }, PythonTrain);
        using var refusing = new RefuseClaims(times: 2);
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, harness.Key), refusing);
        var agent = await harness.StartAgentAsync(client: client);
        await Poll.UntilAsync(() => Task.FromResult(refusing.Refused), n => n == 2, TimeSpan.FromSeconds(30), "two claims to be refused with a plain 409");

        var item = await harness.EnqueueAsync(job);

        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled, "the item to end");
        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}");
        Assert.False(agent.Run.IsCompleted);
        await harness.Client.StopAgentAsync(agent.Id);
        await agent.Run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(AgentStates.Stopped, (await harness.Client.ListAgentsAsync()).Agents.Single(a => a.Id == agent.Id).State);
    }

    [Fact]
    public async Task AgentCommand_OnTwoSigterms_StopsADrainingAgentAtOnce()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var job = await harness.CreateJobAsync("deaf", Script(marks, "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(300)"), PythonTrain);
        using var agent = AgentProcess.Start(server.BaseUrl, harness.Key, "--queue", harness.Queue, "--drain", "--work-dir", harness.Work.Path);
        var item = await harness.EnqueueAsync(job);
        var pid = await StartedAsync(harness, marks, item);

        agent.Signal("TERM");
        await Poll.UntilAsync(() => harness.Client.ListAgentsAsync(), l => l.Agents.Single().State == AgentStates.Stopping, TimeSpan.FromSeconds(30), "the agent to report stopping");
        Assert.False(agent.Process.HasExited, agent.Output);
        Assert.True(Processes.IsAlive(pid));
        agent.Signal("TERM");

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.False(Processes.IsAlive(pid), "the workload outlived the agent");
        Assert.Contains("Stopped claiming", agent.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Asserts the item came back at once (no poll: the agent released it before it ended) with its attempt not
    /// counted, and the attempt's run ended killed saying why.
    /// </summary>
    internal static async Task AssertReleasedAsync(AgentHarness harness, string itemId, string runId)
    {
        var returned = await harness.Client.GetItemAsync(itemId);
        Assert.Equal((ItemStates.Pending, 1), (returned.State, returned.Attempt));
        Assert.Equal(RunStates.Killed, (await harness.Client.GetRunAsync(runId)).State);
        Assert.EndsWith("[liftoff] the agent shut down; requeued", await harness.LogsAsync(runId), StringComparison.Ordinal);
    }

    /// <summary>Answers the agent's first claims with a 409 that is not the stop signal, as a server's passing conflict would.</summary>
    private sealed class RefuseClaims(int times) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _claims;

        public int Refused => Math.Min(Volatile.Read(ref _claims), times);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/claim", StringComparison.Ordinal) && Interlocked.Increment(ref _claims) <= times)
            {
                return new HttpResponseMessage(HttpStatusCode.Conflict)
                {
                    Content = new StringContent("""{"title":"Already exists","status":409,"detail":"run id abc collided"}""", Encoding.UTF8, "application/problem+json"),
                };
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>A job that calls init, writes its pid where the test can see it, then runs <paramref name="body"/> and finishes.</summary>
    private static Dictionary<string, string> Script(TempDirectory marks, string body) => new()
    {
        ["train.py"] = $"""
            import os, signal, time
            import liftoff
            liftoff.init()
            with open({JsonSerializer.Serialize(Path.Combine(marks.Path, "pid.tmp"))}, "w") as f:
                f.write(str(os.getpid()))
            os.rename({JsonSerializer.Serialize(Path.Combine(marks.Path, "pid.tmp"))}, {JsonSerializer.Serialize(Path.Combine(marks.Path, "pid"))})
            {body}
            liftoff.finish()
            """,
    };

    private static async Task<int> StartedAsync(AgentHarness harness, TempDirectory marks, ItemInfo item)
    {
        var file = Path.Combine(marks.Path, "pid");
        await Poll.UntilAsync(() => Task.FromResult(File.Exists(file)), e => e, TimeSpan.FromSeconds(60), "the job to start");
        await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to be running");
        return int.Parse(await File.ReadAllTextAsync(file), CultureInfo.InvariantCulture);
    }
}
