using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

/// <summary>The agent classes what it sees and enforces the max run time, with the real agent on local-process (issue #17).</summary>
public sealed class FailureClassTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly string[] PythonTrain = ["python", "train.py"];

    [Fact]
    public async Task Agent_WhenTheRunPassesItsMaxRunTime_StopsItAndFailsTheItemWithClassTimeout()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var job = await harness.CreateJobAsync("forever", new Dictionary<string, string>
        {
            ["train.py"] = """
                import time
                import liftoff
                liftoff.init()
                print("training", flush=True)
                while True:
                    time.sleep(0.1)
                """,
        }, PythonTrain);
        await harness.StartAgentAsync();

        var item = await harness.EnqueueAsync(job, maxRunSeconds: 2);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled, "the item to end");

        Assert.Equal((ItemStates.Failed, FailureClasses.Timeout, ItemPhases.Run), (done.State, done.FailureClass, done.Phase));
        Assert.Contains("max run time of 2 s", done.Error, StringComparison.Ordinal);
        Assert.Equal(2, done.MaxRunSeconds);
        Assert.Contains("training", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.NotEqual(RunStates.Running, (await harness.Client.GetRunAsync(done.RunId!)).State);
    }

    [Fact]
    public async Task Agent_WhenTheJobIsKilledFromOutside_RetriesItAsAnInfrastructureFailure_AndTheHistoryShowsTheAttempts()
    {
        await using var harness = await AgentHarness.StartAsync(server,
            retryPolicy: new RetryPolicy(new Dictionary<string, int> { [FailureClasses.Infrastructure] = 1 }, [], new BackoffPolicy(0.1, 0.1, 0)));
        using var pids = new TempDirectory();
        var pidFile = Path.Combine(pids.Path, "pid");
        var job = await harness.CreateJobAsync("victim", new Dictionary<string, string>
        {
            ["train.py"] = $$"""
                import os, time
                import liftoff
                liftoff.init()
                marker = {{JsonSerializer.Serialize(Path.Combine(pids.Path, "second"))}}
                if os.path.exists(marker):
                    liftoff.finish()
                else:
                    open(marker, "w").close()
                    with open({{JsonSerializer.Serialize(pidFile + ".tmp")}}, "w") as f:
                        f.write(str(os.getpid()))
                    os.rename({{JsonSerializer.Serialize(pidFile + ".tmp")}}, {{JsonSerializer.Serialize(pidFile)}})
                    while True:
                        time.sleep(0.1)
                """,
        }, PythonTrain);
        await harness.StartAgentAsync();
        var item = await harness.EnqueueAsync(job);
        await Poll.UntilAsync(() => Task.FromResult(File.Exists(pidFile)), e => e, TimeSpan.FromSeconds(60), "the job to start");
        await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to be running");

        using (var kill = System.Diagnostics.Process.Start("kill", ["-KILL", (await File.ReadAllTextAsync(pidFile)).Trim()]))
        {
            await kill.WaitForExitAsync();
        }

        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled, "the item to end", seconds: 90);

        Assert.Equal((ItemStates.Finished, 2), (done.State, done.Attempt));
        var history = (await harness.Client.GetItemHistoryAsync(item.Id)).Events;
        var retried = Assert.Single(history, e => e.FailureClass is not null);
        Assert.Equal((ItemStates.Pending, 2, FailureClasses.Infrastructure), (retried.State, retried.Attempt, retried.FailureClass));
        Assert.Contains("signal 9 from outside Liftoff", retried.Message, StringComparison.Ordinal);
        Assert.NotNull(retried.ClaimableAt);
        Assert.Equal([ItemStates.Pending, ItemStates.Leased, ItemStates.Starting, ItemStates.Running, ItemStates.Pending, ItemStates.Leased, ItemStates.Starting, ItemStates.Running, ItemStates.Finished],
            history.Select(e => e.State));
    }
}
