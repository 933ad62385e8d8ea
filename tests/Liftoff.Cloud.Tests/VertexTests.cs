using System.Net;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cloud.Tests;

public sealed class VertexTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string QueueConfig = """
        {
          "workerPoolSpecs": [{
            "machineSpec": { "machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1 },
            "replicaCount": "1",
            "diskSpec": { "bootDiskType": "pd-ssd", "bootDiskSizeGb": 100 }
          }],
          "scheduling": { "timeout": "3600s" }
        }
        """;

    private static async Task<(VertexStandIn StandIn, CloudHarness Harness)> StartAsync(ServerFixture server, string agentName)
    {
        var standIn = await VertexStandIn.StartNewAsync();
        var harness = await CloudHarness.StartAsync(server, Resources.Vertex, QueueConfig);
        harness.StandIn = standIn;
        var keyFile = harness.Work.File("service-account.json", standIn.KeyFile());
        harness.StartAgent(standIn.AgentConfig(agentName, harness.Queue, keyFile), new Dictionary<string, string?>());
        return (standIn, harness);
    }

    [Fact]
    public async Task CustomJob_WhenTheContainerSucceeds_FinishesTheItemWithItsLogs()
    {
        var (standIn, harness) = await StartAsync(server, "vx-agent");
        await using var _ = standIn;
        await using var __ = harness;

        var item = await harness.EnqueueAsync("""{"lr": 0.5}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        var job = Assert.Single(standIn.Jobs.Values);
        Assert.Equal("liftoff-" + done.RunId, (string?)job.Request["displayName"]);
        var container = job.Request["jobSpec"]!["workerPoolSpecs"]![0]!["containerSpec"]!;
        Assert.Equal("123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1", (string?)container["imageUri"]);
        Assert.Contains(container["env"]!.AsArray(), e => (string?)e!["name"] == "LIFTOFF_RUN_ID" && (string?)e["value"] == done.RunId);
        Assert.Equal(item.Id, (string?)job.Request["labels"]!["liftoff-item-id"]);
        Assert.Equal(["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"], job.History);
        Assert.Equal(RunStates.Finished, (await harness.Client.GetRunAsync(done.RunId!)).State);
        Assert.Contains($"training run {done.RunId} lr 0.5", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.True(standIn.TokensIssued >= 1);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task CustomJob_WithEnvAndASecretReference_GetsTheValueInEveryContainer_WhileTheItemKeepsTheReference()
    {
        var (standIn, harness) = await StartAsync(server, "vx-agent");
        await using var _ = standIn;
        await using var __ = harness;
        var value = "tok-" + Guid.NewGuid().ToString("N");
        await harness.Client.SetSecretAsync("DATA_TOKEN", value);

        var item = await harness.EnqueueAsync("""{"lr": 0.5}""", """{"env": {"DATA_TOKEN": "${secret:DATA_TOKEN}", "PLAIN": "x", "LIFTOFF_RUN_ID": "spoofed"}}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        var job = Assert.Single(standIn.Jobs.Values);
        Assert.Null(job.Request["jobSpec"]!["env"]);
        var env = job.Request["jobSpec"]!["workerPoolSpecs"]![0]!["containerSpec"]!["env"]!.AsArray()
            .ToDictionary(e => (string)e!["name"]!, e => (string?)e!["value"]);
        Assert.Equal(value, env["DATA_TOKEN"]);
        Assert.Equal("x", env["PLAIN"]);
        Assert.Equal(done.RunId, env["LIFTOFF_RUN_ID"]);
        var stored = (await harness.Client.GetItemAsync(item.Id)).ResourceArgs.GetRawText();
        Assert.Contains("${secret:DATA_TOKEN}", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(value, stored, StringComparison.Ordinal);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task CustomJob_WhenTheContainerFails_FailsTheItemWithTheJobsError()
    {
        var (standIn, harness) = await StartAsync(server, "vx-agent");
        await using var _ = standIn;
        await using var __ = harness;

        var item = await harness.EnqueueAsync("""{"exit": 4}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Failed, $"{done.State}\n{harness.AgentOutput()}");
        Assert.Contains("Vertex AI: JOB_STATE_FAILED: The replica workerpool0-0 exited with a non-zero status of 4.", done.Error, StringComparison.Ordinal);
        Assert.Contains("diverged: loss is nan", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task CancelItem_WhileRunning_CancelsTheCustomJob()
    {
        var (standIn, harness) = await StartAsync(server, "vx-agent");
        await using var _ = standIn;
        await using var __ = harness;

        var item = await harness.EnqueueAsync(JsonSerializer.Serialize(new { release = Path.Combine(harness.Work.Path, "never") }));
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to run");
        await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("training run", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the job's first line");
        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Cancelled, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        Assert.Equal(["JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"], standIn.Jobs.Values.Single().History[^2..]);
        Assert.Contains(standIn.Requests, r => r.EndsWith(":cancel", StringComparison.Ordinal));
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task AgentRestart_AfterACrash_ReattachesToItsCustomJobByLabels()
    {
        var standIn = await VertexStandIn.StartNewAsync();
        await using var _ = standIn;
        await using var harness = await CloudHarness.StartAsync(server, Resources.Vertex, QueueConfig);
        harness.StandIn = standIn;
        var config = standIn.AgentConfig("vx-restart", harness.Queue, harness.Work.File("service-account.json", standIn.KeyFile()));
        var first = harness.StartAgent(config, new Dictionary<string, string?>());
        var release = Path.Combine(harness.Work.Path, "release");

        var item = await harness.EnqueueAsync(JsonSerializer.Serialize(new { release }));
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to run");
        first.Signal("KILL");
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var listsBefore = standIn.Requests.Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && r.EndsWith("/customJobs", StringComparison.Ordinal));
        harness.StartAgent(config, new Dictionary<string, string?>());
        await Poll.UntilAsync(() => Task.FromResult(standIn.Requests.Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && r.EndsWith("/customJobs", StringComparison.Ordinal))),
            n => n > listsBefore, TimeSpan.FromSeconds(60), "the new agent to look for its jobs");
        File.WriteAllText(release, "");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        Assert.Equal(running.RunId, done.RunId);
        Assert.Single(standIn.Jobs);
        Assert.Contains("Re-attached", harness.AgentOutput(), StringComparison.Ordinal);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task Enqueue_MachineSpecWithoutMachineType_IsRefusedNamingThePath()
    {
        using var client = server.Client(await server.NewUserKeyAsync());
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateQueueAsync(new CreateQueueRequest(queue, Resources.Vertex, JsonDocument.Parse(QueueConfig).RootElement));
        await client.CreateJobAsync(new CreateJobRequest(CloudHarness.Project, "img", new JobDefinition(
            JobSourceTypes.Image, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["image"] = "train:1" }), ["python"])));

        var refused = await Assert.ThrowsAsync<LiftoffException>(() => client.EnqueueAsync(queue, new EnqueueRequest("img", CloudHarness.Project,
            ResourceArgs: JsonDocument.Parse("""{"workerPoolSpecs": [{"machineSpec": {"acceleratorType": "NVIDIA_TESLA_T4"}}]}""").RootElement)));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("resource_args.workerPoolSpecs[0].machineSpec.machineType", refused.Message, StringComparison.Ordinal);
        Assert.Empty((await client.ListItemsAsync(queue)).Items);
    }

    [Fact]
    public async Task StandIn_AssertionSignedWithAnotherKey_IsRefusedAndRecorded()
    {
        await using var standIn = await VertexStandIn.StartNewAsync();
        using var other = System.Security.Cryptography.RSA.Create(2048);
        var header = Convert.ToBase64String("""{"alg":"RS256","typ":"JWT"}"""u8.ToArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iss"] = VertexStandIn.ClientEmail, ["aud"] = "https://oauth2.googleapis.com/token",
            ["scope"] = "https://www.googleapis.com/auth/cloud-platform", ["iat"] = now, ["exp"] = now + 3600,
        })).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var signature = Convert.ToBase64String(other.SignData(System.Text.Encoding.ASCII.GetBytes(header + "." + claims),
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        using var http = new HttpClient();

        using var response = await http.PostAsync(new Uri(standIn.BaseUrl, "token"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ["assertion"] = $"{header}.{claims}.{signature}",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("does not verify", Assert.Single(standIn.Violations), StringComparison.Ordinal);
        Assert.Equal(0, standIn.TokensIssued);
    }
}
