using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

/// <summary>The agent on a server whose blobs are in a real S3-compatible bucket (s3rver on 127.0.0.1).</summary>
public sealed class S3LocalProcessTests(S3ServerFixture server) : IClassFixture<S3ServerFixture>
{
    [Fact]
    public async Task Agent_WhenTheJobsCodeIsInABucket_FetchesItFromTheBucketAndRunsIt()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var job = await harness.CreateJobAsync("train", new Dictionary<string, string>
        {
            ["train.py"] = """
                import liftoff
                run = liftoff.init()
                print("code from the bucket ran")
                liftoff.finish()
                """,
        }, ["python", "train.py"]);
        await harness.StartAgentAsync();

        var item = await harness.EnqueueAsync(job, "{}");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.Contains("code from the bucket ran", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.Contains(Directory.GetFiles(server.S3.BucketDirectory, "*", SearchOption.AllDirectories), f => f.Contains("sha256", StringComparison.Ordinal));
    }
}
