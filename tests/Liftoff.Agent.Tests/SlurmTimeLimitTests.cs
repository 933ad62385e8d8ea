using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

/// <summary>
/// A real Slurm time limit: the smallest sbatch takes is one minute, and slurmctld enforces it on its own clock, so this
/// costs about 65 s. A class of its own, so it runs beside the other Slurm tests rather than after them.
/// </summary>
public sealed class SlurmTimeLimitTests(ServerFixture server, SlurmClusterFixture cluster) : IClassFixture<ServerFixture>, IClassFixture<SlurmClusterFixture>
{
    [Fact]
    public async Task Agent_WhenTheJobOutlivesItsTimeLimit_FailsTheItemNamingTIMEOUT()
    {
        await using var harness = await SlurmHarness.StartAsync(server);
        var job = await SlurmTests.CreateJobAsync(harness, "overtime", """
            import time, liftoff
            liftoff.init()
            print("working past the limit", flush=True)
            time.sleep(600)
            """);
        await SlurmHarness.StartAgentAsync(harness, cluster);

        var item = await SlurmHarness.EnqueueAsync(harness, job, """{"time": "1"}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the time limit to end the item", 180);

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Contains("TIMEOUT", done.Error, StringComparison.Ordinal);
        var logs = await harness.LogsAsync(done.RunId!);
        Assert.Contains("working past the limit", logs, StringComparison.Ordinal);
        Assert.Equal("TIMEOUT", (await SlurmTests.SqueueAsync(SlurmTests.JobId(logs))).State);
    }
}
