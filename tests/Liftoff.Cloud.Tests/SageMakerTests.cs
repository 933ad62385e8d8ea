using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cloud.Tests;

public sealed class SageMakerTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string QueueConfig = """
        {
          "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
          "ResourceConfig": { "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30 },
          "OutputDataConfig": { "S3OutputPath": "s3://liftoff-tests/output" },
          "StoppingCondition": { "MaxRuntimeInSeconds": 3600 }
        }
        """;

    private static async Task<(SageMakerStandIn StandIn, CloudHarness Harness)> StartAsync(ServerFixture server)
    {
        var standIn = await SageMakerStandIn.StartNewAsync();
        var harness = await CloudHarness.StartAsync(server, Resources.SageMaker, QueueConfig);
        harness.StandIn = standIn;
        harness.StartAgent(standIn.AgentConfig("sm-agent", harness.Queue), SageMakerStandIn.CredentialsEnvironment());
        return (standIn, harness);
    }

    [Fact]
    public async Task TrainingJob_WhenTheContainerSucceeds_FinishesTheItemWithItsLogs()
    {
        var (standIn, harness) = await StartAsync(server);
        await using var _ = standIn;
        await using var __ = harness;

        var item = await harness.EnqueueAsync("""{"lr": 0.01}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        var job = Assert.Single(standIn.Jobs.Values);
        Assert.Equal("liftoff-" + done.RunId, job.Name);
        Assert.Equal("123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1", (string?)job.Request["AlgorithmSpecification"]!["TrainingImage"]);
        Assert.Equal(done.RunId, (string?)job.Request["Environment"]!["LIFTOFF_RUN_ID"]);
        Assert.Equal("0.01", (string?)job.Request["HyperParameters"]!["lr"]);
        var tags = job.Request["Tags"]!.AsArray().ToDictionary(t => (string)t!["Key"]!, t => (string)t!["Value"]!);
        Assert.Equal(item.Id, tags["liftoff:item-id"]);
        Assert.Equal("sm-agent", tags["liftoff:agent"]);
        Assert.Equal(["InProgress/Starting", "InProgress/Downloading", "InProgress/Training", "Completed/Completed"], job.History);

        var run = await harness.Client.GetRunAsync(done.RunId!);
        Assert.Equal(RunStates.Finished, run.State);
        var logs = await harness.LogsAsync(done.RunId!);
        Assert.Contains($"training run {done.RunId} lr 0.01", logs, StringComparison.Ordinal);
        Assert.Contains("GetLogEvents", string.Join('\n', standIn.Requests), StringComparison.Ordinal);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task TrainingJob_WithASecretReference_GetsTheValueInItsEnvironment_WhileTheItemKeepsTheReference()
    {
        var (standIn, harness) = await StartAsync(server);
        await using var _ = standIn;
        await using var __ = harness;
        var value = "tok-" + Guid.NewGuid().ToString("N");
        await harness.Client.SetSecretAsync("DATA_TOKEN", value);

        var item = await harness.EnqueueAsync("""{"lr": 0.01}""", """{"Environment": {"DATA_TOKEN": "${secret:DATA_TOKEN}"}}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        Assert.Equal(value, (string?)Assert.Single(standIn.Jobs.Values).Request["Environment"]!["DATA_TOKEN"]);
        var stored = (await harness.Client.GetItemAsync(item.Id)).ResourceArgs.GetRawText();
        Assert.Contains("${secret:DATA_TOKEN}", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(value, stored, StringComparison.Ordinal);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task TrainingJob_WithARunConfigOverTheEnvironmentLimit_TakesItsConfigFromTheServer()
    {
        var (standIn, harness) = await StartAsync(server);
        await using var _ = standIn;
        await using var __ = harness;
        var labels = string.Join(",", Enumerable.Range(0, 120).Select(i => $"\"class-{i}\""));

        var item = await harness.EnqueueAsync($$"""{"lr": 0.02, "labels": [{{labels}}]}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{harness.AgentOutput()}\n{string.Join('\n', standIn.Violations)}");
        var environment = Assert.Single(standIn.Jobs.Values).Request["Environment"]!.AsObject();
        Assert.False(environment.ContainsKey("LIFTOFF_CONFIG"), "LIFTOFF_CONFIG over 512 characters was passed to SageMaker");
        Assert.All(environment, e => Assert.True(((string?)e.Value)!.Length <= 512, $"{e.Key} is over 512 characters"));
        var logs = await harness.LogsAsync(done.RunId!);
        Assert.Contains($"training run {done.RunId} lr 0.02", logs, StringComparison.Ordinal);
        Assert.Contains("over SageMaker's 512-character limit", logs, StringComparison.Ordinal);
        var run = await harness.Client.GetRunAsync(done.RunId!);
        Assert.Equal(120, run.Config.GetProperty("labels").GetArrayLength());
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task TrainingJob_WhenTheContainerFails_FailsTheItemWithTheFailureReason()
    {
        var (standIn, harness) = await StartAsync(server);
        await using var _ = standIn;
        await using var __ = harness;

        var item = await harness.EnqueueAsync("""{"exit": 3}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Failed, $"{done.State}\n{harness.AgentOutput()}");
        Assert.Equal(ItemPhases.Run, done.Phase);
        Assert.Contains("SageMaker: AlgorithmError: the training container exited with code 3", done.Error, StringComparison.Ordinal);
        Assert.Contains("diverged: loss is nan", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.Equal("Failed/Failed", standIn.Jobs.Values.Single().History[^1]);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task CancelItem_WhileTraining_StopsTheTrainingJob()
    {
        var (standIn, harness) = await StartAsync(server);
        await using var _ = standIn;
        await using var __ = harness;
        var never = Path.Combine(harness.Work.Path, "never");

        var item = await harness.EnqueueAsync(JsonSerializer.Serialize(new { release = never }));
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to run");
        await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("training run", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the job's first line");
        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Cancelled, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        var job = standIn.Jobs.Values.Single();
        Assert.Equal(["Stopping/Stopping", "Stopped/Stopped"], job.History[^2..]);
        Assert.Contains("SageMaker.StopTrainingJob", string.Join('\n', standIn.Requests), StringComparison.Ordinal);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task AgentRestart_AfterACrash_ReattachesToItsTrainingJobByTags()
    {
        await using var standIn = await SageMakerStandIn.StartNewAsync();
        await using var harness = await CloudHarness.StartAsync(server, Resources.SageMaker, QueueConfig);
        harness.StandIn = standIn;
        var first = harness.StartAgent(standIn.AgentConfig("sm-restart", harness.Queue), SageMakerStandIn.CredentialsEnvironment());
        var release = Path.Combine(harness.Work.Path, "release");

        var item = await harness.EnqueueAsync(JsonSerializer.Serialize(new { release }));
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to run");
        first.Signal("KILL");
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        harness.StartAgent(standIn.AgentConfig("sm-restart", harness.Queue), SageMakerStandIn.CredentialsEnvironment());
        await Poll.UntilAsync(() => Task.FromResult(standIn.Requests.Count(r => r.EndsWith("SageMaker.ListTags", StringComparison.Ordinal))), n => n > 0, TimeSpan.FromSeconds(60), "the new agent to look for its jobs");
        File.WriteAllText(release, "");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{harness.AgentOutput()}");
        Assert.Equal(1, done.Attempt);
        Assert.Equal(running.RunId, done.RunId);
        Assert.Single(standIn.Jobs);
        Assert.Contains("Re-attached", harness.AgentOutput(), StringComparison.Ordinal);
        Assert.Empty(standIn.Violations);
    }

    [Fact]
    public async Task Enqueue_ConfigBreakingCreateTrainingJob_IsRefusedNamingThePath()
    {
        using var client = server.Client(await server.NewUserKeyAsync());
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];

        var badQueue = await Assert.ThrowsAsync<LiftoffException>(() => client.CreateQueueAsync(new CreateQueueRequest(queue, Resources.SageMaker,
            JsonDocument.Parse("""{"ResourceConfig": {"InstanceType": "ml.banana.xlarge", "VolumeSizeInGB": 30}}""").RootElement)));
        Assert.Equal(HttpStatusCode.BadRequest, badQueue.StatusCode);
        Assert.Contains("config.ResourceConfig.InstanceType", badQueue.Message, StringComparison.Ordinal);

        var withoutRole = JsonDocument.Parse(QueueConfig).RootElement.EnumerateObject().Where(p => p.Name != "RoleArn").ToDictionary(p => p.Name, p => p.Value);
        await client.CreateQueueAsync(new CreateQueueRequest(queue, Resources.SageMaker, JsonSerializer.SerializeToElement(withoutRole)));
        await client.CreateJobAsync(new CreateJobRequest(CloudHarness.Project, "img", new JobDefinition(
            JobSourceTypes.Image, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["image"] = "train:1" }), ["python"])));
        var missingRole = await Assert.ThrowsAsync<LiftoffException>(() => client.EnqueueAsync(queue, new EnqueueRequest("img", CloudHarness.Project)));
        Assert.Equal(HttpStatusCode.BadRequest, missingRole.StatusCode);
        Assert.Contains("resource_args.RoleArn", missingRole.Message, StringComparison.Ordinal);

        var withRole = await client.EnqueueAsync(queue, new EnqueueRequest("img", CloudHarness.Project,
            ResourceArgs: JsonDocument.Parse("""{"RoleArn": "arn:aws:iam::123456789012:role/R"}""").RootElement));
        Assert.Equal(ItemStates.Pending, withRole.State);
        var items = await client.ListItemsAsync(queue);
        Assert.Equal([withRole.Id], items.Items.Select(i => i.Id));
    }

    [Fact]
    public async Task StandIn_RequestSignedWithAnotherSecret_IsRefusedAndRecorded()
    {
        await using var standIn = await SageMakerStandIn.StartNewAsync();
        using var http = new HttpClient();
        var body = """{"TrainingJobName":"liftoff-x"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, standIn.SageMakerEndpoint) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-amz-json-1.1");
        request.Headers.Add("X-Amz-Target", "SageMaker.DescribeTrainingJob");
        request.Headers.Add("X-Amz-Date", DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("X-Amz-Security-Token", SageMakerStandIn.SessionToken);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={SageMakerStandIn.AccessKey}/{DateTimeOffset.UtcNow:yyyyMMdd}/{SageMakerStandIn.Region}/sagemaker/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token;x-amz-target, Signature={new string('0', 64)}");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("signature does not match", Assert.Single(standIn.Violations), StringComparison.Ordinal);
    }
}
