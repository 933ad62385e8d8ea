using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets;
using Liftoff.Targets.Builders;
using Liftoff.Targets.Docker;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Resources = Liftoff.Contracts.Resources;
using Xunit;

namespace Liftoff.Agent.Tests.Docker;

/// <summary>The docker target end to end: a real server, in-process agents, the real Docker engine and registry.</summary>
[Collection(DockerCollection.Name)]
public sealed class DockerRunnerTests(ServerFixture server, DockerEngineFixture docker) : IClassFixture<ServerFixture>
{
    private const string PasswordVariable = "LIFTOFF_TEST_REGISTRY_PASSWORD";
    private const string ItemLabel = "ai.liftoff.item";
    private static readonly string[] PythonTrain = ["python", "train.py"];

    private const string Train = """
        import os, sys
        import liftoff
        run = liftoff.init()
        print("in a container as", os.getuid(), "with", sys.executable, "lr", run.config.get("lr"))
        print("a warning", file=sys.stderr)
        liftoff.log({"loss": 0.5})
        liftoff.finish()
        """;

    [Fact]
    public async Task CodeJob_OnADockerQueue_RunsInAContainerWithTheRunEnvironmentAndIsRemovedAfter()
    {
        await using var harness = await StartAsync();
        var job = await harness.CreateJobAsync("train-" + Unique(), new Dictionary<string, string> { ["train.py"] = Train }, PythonTrain);
        await harness.StartAgentAsync(Options(harness));

        var item = await harness.EnqueueAsync(job, """{"lr": 0.25}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end", 180);

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        var run = await harness.Client.GetRunAsync(done.RunId!);
        Assert.Equal(RunStates.Finished, run.State);
        var logs = await harness.LogsAsync(run.Id);
        Assert.Contains("in a container as 0 with /opt/liftoff/venv/bin/python lr 0.25", logs, StringComparison.Ordinal);
        Assert.Contains("a warning", logs, StringComparison.Ordinal);
        Assert.StartsWith($"liftoff-job/{job}:", run.Config.GetProperty("_liftoff_image").GetString(), StringComparison.Ordinal);
        await Poll.UntilAsync(() => docker.ContainersAsync(ItemLabel, item.Id), c => c.Count == 0, TimeSpan.FromSeconds(30), "the container to be removed");
    }

    [Fact]
    public async Task Build_WhenTheJobIsUnchanged_ReusesTheImage_AndAChangedRequirementsFileRebuilds()
    {
        await using var harness = await StartAsync();
        var name = "reqs-" + Unique();
        // pip is in every venv already, so installing it needs no index; the marker defeats the engine's layer cache.
        var files = new Dictionary<string, string> { ["train.py"] = Train, ["requirements.txt"] = $"pip  # {name}\n" };
        await harness.CreateJobAsync(name, files, PythonTrain);
        await harness.StartAgentAsync(Options(harness));

        var first = await RunToEndAsync(harness, name);
        var second = await RunToEndAsync(harness, name);
        files["requirements.txt"] = $"pip>=20  # {name}\n";
        await harness.CreateJobAsync(name, files, PythonTrain);
        var third = await RunToEndAsync(harness, name);

        Assert.Contains("[liftoff agent] building image", first.Logs, StringComparison.Ordinal);
        Assert.Contains("Requirement already satisfied: pip", first.Logs, StringComparison.Ordinal);
        Assert.DoesNotContain("building image", second.Logs, StringComparison.Ordinal);
        Assert.Contains("is up to date; not rebuilding", second.Logs, StringComparison.Ordinal);
        Assert.Equal(first.Image, second.Image);
        Assert.Contains("[liftoff agent] building image", third.Logs, StringComparison.Ordinal);
        Assert.NotEqual(first.Image, third.Image);
    }

    [Fact]
    public async Task ImageJob_FromTheRegistryWithCredentials_IsPulledAndItsDigestRecorded()
    {
        var tag = Unique();
        var reference = await PushJobImageAsync(tag);
        await docker.Client.Images.DeleteImageAsync(reference, new ImageDeleteParameters());
        await using var harness = await StartAsync();
        var job = await CreateImageJobAsync(harness, "pulled-" + tag, reference, ["python3", "-c", "import liftoff; liftoff.init(); print('from the pulled image'); liftoff.finish()"]);
        await harness.StartAgentAsync(Options(harness));

        var result = await RunToEndAsync(harness, job);

        Assert.True(result.Item.State == ItemStates.Finished, $"{result.Item.State} {result.Item.Phase}: {result.Item.Error}");
        Assert.Contains($"[liftoff agent] pulling {reference}", result.Logs, StringComparison.Ordinal);
        Assert.Contains("from the pulled image", result.Logs, StringComparison.Ordinal);
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(reference)}@sha256:[0-9a-f]{{64}}$", result.Image);
    }

    [Fact]
    public async Task ImageJob_WithCredentialsOnlyInTheDockerConfig_IsPulledWithThem()
    {
        var reference = await PushJobImageAsync("docker-config-" + Unique());
        await docker.Client.Images.DeleteImageAsync(reference, new ImageDeleteParameters());
        await using var harness = await StartAsync();
        var job = await CreateImageJobAsync(harness, "docker-config", reference, ["python3", "-c", "import liftoff; liftoff.init(); liftoff.finish()"]);
        using var dockerConfig = new TempDirectory();
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{DockerEngineFixture.RegistryUser}:{DockerEngineFixture.RegistryPassword}"));
        dockerConfig.File("config.json", JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["auths"] = new Dictionary<string, object> { [DockerEngineFixture.Registry] = new Dictionary<string, string> { ["auth"] = auth } },
        }));
        var options = Options(harness);
        options.Registry = null;
        using (new EnvironmentScope(("DOCKER_CONFIG", dockerConfig.Path)))
        {
            await harness.StartAgentAsync(options);

            var result = await RunToEndAsync(harness, job);

            Assert.True(result.Item.State == ItemStates.Finished, $"{result.Item.State} {result.Item.Phase}: {result.Item.Error}");
            Assert.Contains($"[liftoff agent] pulling {reference}", result.Logs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ImageJob_WhenTheRegistryRefusesTheCredentials_FailsInPullNamingTheRegistry()
    {
        var reference = await PushJobImageAsync("refused-" + Unique());
        await docker.Client.Images.DeleteImageAsync(reference, new ImageDeleteParameters());
        await using var harness = await StartAsync();
        var job = await CreateImageJobAsync(harness, "refused", reference, ["python3", "-c", "print(1)"]);
        var options = Options(harness);
        options.Registry!.PasswordEnv = "LIFTOFF_TEST_WRONG_REGISTRY_PASSWORD";
        Environment.SetEnvironmentVariable("LIFTOFF_TEST_WRONG_REGISTRY_PASSWORD", "not-the-password");
        await harness.StartAgentAsync(options);

        var result = await RunToEndAsync(harness, job);

        Assert.Equal(ItemStates.Failed, result.Item.State);
        Assert.Equal(ItemPhases.Pull, result.Item.Phase);
        Assert.Contains($"could not pull image {reference} from {DockerEngineFixture.Registry} as {DockerEngineFixture.RegistryUser}", result.Item.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", result.Item.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImageJob_WhenTheImageDoesNotExist_FailsInPull()
    {
        await using var harness = await StartAsync();
        var reference = $"{DockerEngineFixture.Registry}/liftoff-test/missing:{Unique()}";
        var job = await CreateImageJobAsync(harness, "missing", reference, ["python3", "-c", "print(1)"]);
        await harness.StartAgentAsync(Options(harness));

        var result = await RunToEndAsync(harness, job);

        Assert.Equal(ItemStates.Failed, result.Item.State);
        Assert.Equal(ItemPhases.Pull, result.Item.Phase);
        Assert.Contains($"could not pull image {reference}", result.Item.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CodeJob_WhenItsDockerfileFails_FailsInBuildWithTheLastBuildLines()
    {
        await using var harness = await StartAsync();
        var job = await harness.CreateJobAsync("broken-" + Unique(), new Dictionary<string, string>
        {
            ["train.py"] = Train,
            ["Dockerfile"] = $"FROM {DockerEngineFixture.BaseImage}\nRUN echo about to fail && exit 3\n",
        }, PythonTrain);
        await harness.StartAgentAsync(Options(harness));

        var result = await RunToEndAsync(harness, job);

        Assert.Equal(ItemStates.Failed, result.Item.State);
        Assert.Equal(ItemPhases.Build, result.Item.Phase);
        Assert.Contains("the image build failed", result.Item.Error, StringComparison.Ordinal);
        Assert.Contains("returned a non-zero code: 3", result.Item.Error, StringComparison.Ordinal);
        Assert.Contains("about to fail", result.Item.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImageJob_WhenTheEntrypointIsNotInTheImage_FailsInSubmitNamingIt()
    {
        await using var harness = await StartAsync();
        var job = await CreateImageJobAsync(harness, "no-entrypoint", DockerEngineFixture.JobImage, ["no-such-program", "--flag"]);
        await harness.StartAgentAsync(Options(harness));

        var result = await RunToEndAsync(harness, job);

        Assert.Equal(ItemStates.Failed, result.Item.State);
        Assert.Equal(ItemPhases.Submit, result.Item.Phase);
        Assert.Contains($"the entrypoint 'no-such-program --flag' was not found in image {DockerEngineFixture.JobImage}", result.Item.Error, StringComparison.Ordinal);
        Assert.Empty(await docker.ContainersAsync(ItemLabel, result.Item.Id));
    }

    [Fact]
    public async Task Container_WhenItExceedsItsMemory_FailsNamingOOMKilled()
    {
        await using var harness = await StartAsync("""{"memory": "32m"}""");
        var job = await CreateImageJobAsync(harness, "hungry", DockerEngineFixture.JobImage,
            ["python3", "-c", "import liftoff; liftoff.init(); blocks = [bytearray(16 << 20) for _ in range(64)]"]);
        var options = Options(harness);
        await harness.StartAgentAsync(options);

        var result = await RunToEndAsync(harness, job);

        Assert.Equal(ItemStates.Failed, result.Item.State);
        Assert.Contains("OOMKilled", result.Item.Error, StringComparison.Ordinal);
        Assert.Contains("32 MiB", result.Item.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Container_ReceivesTheSecretInItsEnvironment_ConsoleAndItemErrorShowItRedacted()
    {
        await using var harness = await StartAsync(SecretsTests.QueueConfig);
        var value = "pw-" + Unique() + Unique();
        await harness.Client.SetSecretAsync("DATA_ACCESS", value);
        var job = await CreateImageJobAsync(harness, "uses-secret-" + Unique(), DockerEngineFixture.JobImage, ["python3", "-c", SecretsTests.Job]);
        await harness.StartAgentAsync(Options(harness));

        var result = await RunToEndAsync(harness, job);

        await SecretsTests.AssertDeliveredAndRedactedAsync(harness, result.Item, value);
    }

    [Fact]
    public async Task Cancel_WhileTheContainerRuns_StopsAndRemovesIt()
    {
        await using var harness = await StartAsync();
        var job = await CreateImageJobAsync(harness, "sleeper", DockerEngineFixture.JobImage,
            ["python3", "-c", "import time, liftoff; liftoff.init(); print('started', flush=True); time.sleep(600)"]);
        await harness.StartAgentAsync(Options(harness));
        var item = await harness.EnqueueAsync(job);
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to run", 120);
        await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("started", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the job's output");

        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to end", 60);

        Assert.Equal(ItemStates.Cancelled, done.State);
        Assert.Equal(RunStates.Killed, (await harness.Client.GetRunAsync(done.RunId!)).State);
        await Poll.UntilAsync(() => docker.ContainersAsync(ItemLabel, item.Id), c => c.Count == 0, TimeSpan.FromSeconds(30), "the container to be removed");
    }

    [Fact]
    public async Task AgentCommand_OnSigterm_StopsTheContainerAndReleasesTheItem_AndAnotherAgentRunsIt()
    {
        await using var harness = await StartAsync();
        using var marks = new TempDirectory();
        var job = await CreateImageJobAsync(harness, "released-" + Unique(), DockerEngineFixture.JobImage,
            ["python3", "-c", "import time, liftoff; liftoff.init(); print('started', flush=True); time.sleep(600)"]);
        var config = marks.File("agent.yaml", $"""
            name: docker-agent-{Unique()}
            queues: [{harness.Queue}]
            stop_grace_seconds: 2
            docker:
              host: {docker.Host}
              network: host
            """);
        var item = await harness.EnqueueAsync(job);
        using var agent = AgentProcess.Start(server.BaseUrl, harness.Key, "--config", config, "--work-dir", harness.Work.Path);
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to run", 120);
        await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("started", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the job's output");

        agent.Signal("TERM");

        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await ShutdownTests.AssertReleasedAsync(harness, item.Id, running.RunId!);
        Assert.Empty(await docker.ContainersAsync(ItemLabel, item.Id));
        await harness.StartAgentAsync(Options(harness));
        var again = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Running or ItemStates.Failed, "another agent to run the item", 120);
        Assert.True(again.State == ItemStates.Running, $"{again.State} {again.Phase}: {again.Error}");
        Assert.Equal(1, again.Attempt);
        Assert.NotEqual(running.RunId, again.RunId);
        await harness.Client.CancelItemAsync(item.Id);
        Assert.Equal(ItemStates.Cancelled, (await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to be cancelled", 60)).State);
    }

    [Fact]
    public async Task Agent_RestartedWhileItsContainerRuns_ReattachesAndReportsTheEnd()
    {
        await using var harness = await StartAsync();
        var job = await CreateImageJobAsync(harness, "outlives", DockerEngineFixture.JobImage,
            ["python3", "-c", "import time, liftoff; liftoff.init(); print('waiting', flush=True); time.sleep(4); print('done waiting'); liftoff.finish()"]);
        var options = Options(harness);
        var item = await harness.EnqueueAsync(job);

        await ClaimStartAndVanishAsync(harness, options);

        Assert.Single(await docker.ContainersAsync(ItemLabel, item.Id));
        await harness.StartAgentAsync(options);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end", 120);

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.Equal(1, done.Attempt);
        Assert.Equal(RunStates.Finished, (await harness.Client.GetRunAsync(done.RunId!)).State);
        await Poll.UntilAsync(() => docker.ContainersAsync(ItemLabel, item.Id), c => c.Count == 0, TimeSpan.FromSeconds(30), "the container to be removed");
    }

    [Fact]
    public async Task Agent_RestartedAfterAnotherAttemptTookItsItem_RemovesTheLeftoverContainer()
    {
        await using var harness = await AgentHarness.StartAsync(server, maxAttempts: 2, resource: Resources.Docker);
        var job = await CreateImageJobAsync(harness, "superseded", DockerEngineFixture.JobImage,
            ["python3", "-c", "import time, liftoff; liftoff.init(); print('running', flush=True); time.sleep(600)"]);
        var options = Options(harness);
        var item = await harness.EnqueueAsync(job);

        // Attempt 1: its agent starts the container and vanishes; the lease runs out and the item returns for attempt 2.
        await ClaimStartAndVanishAsync(harness, options);

        var leftover = Assert.Single(await docker.ContainersAsync(ItemLabel, item.Id));
        await harness.WaitForItemAsync(item.Id, i => i.Attempt == 2, "the lease of attempt 1 to run out", 120);

        // The restarted agent finds attempt 1's container, learns that attempt 2 owns the item, removes it and runs attempt 2.
        await harness.StartAgentAsync(options);
        var containers = await Poll.UntilAsync(() => docker.ContainersAsync(ItemLabel, item.Id), c => c.Count == 1 && c[0].ID != leftover.ID,
            TimeSpan.FromSeconds(90), "attempt 1's container to be removed and attempt 2's to run");
        Assert.Equal("2", containers[0].Labels[DockerEngine.LabelPrefix + "attempt"]);
        await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "attempt 2 to run", 120);

        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to be cancelled", 60);
        Assert.Equal(ItemStates.Cancelled, done.State);
        await Poll.UntilAsync(() => docker.ContainersAsync(ItemLabel, item.Id), c => c.Count == 0, TimeSpan.FromSeconds(30), "no container of the item to be left");
    }

    [Fact]
    public async Task Enqueue_WithUnknownOrEscapingResourceArgs_IsRefusedNamingEachAndQueuesNothing()
    {
        await using var harness = await StartAsync();
        var job = await CreateImageJobAsync(harness, "refused-args", DockerEngineFixture.JobImage, ["python3", "-c", "print(1)"]);

        var refused = await Assert.ThrowsAsync<LiftoffException>(() => harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project,
            ResourceArgs: JsonDocument.Parse("""{"memroy": "1g", "privileged": true}""").RootElement.Clone())));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("resource_args.memroy", refused.Message, StringComparison.Ordinal);
        Assert.Contains("resource_args.privileged", refused.Message, StringComparison.Ordinal);
        Assert.Empty((await harness.Client.ListItemsAsync(harness.Queue)).Items);
    }

    [Fact]
    public async Task Builder_WithPush_PushesTheBuiltImageToTheRegistryWithCredentials()
    {
        await using var harness = await StartAsync();
        var name = "pushed-" + Unique();
        await harness.CreateJobAsync(name, new Dictionary<string, string> { ["train.py"] = Train }, PythonTrain);
        var options = Options(harness);
        var spec = await harness.Client.DryRunAsync(harness.Queue, new EnqueueRequest(name, AgentHarness.Project));
        await using var services = Services(harness, options);
        var builder = services.GetRequiredService<IImageBuilder>();
        var console = new RunConsole(harness.Client, spec.RunId, TimeProvider.System, NullLogger.Instance);
        using var work = new TempDirectory();

        var image = await builder.PrepareAsync(new LaunchContext(spec, spec.JobDefinition.Deserialize(LiftoffJsonContext.Default.JobDefinition)!, console, harness.Client, work.Path), push: true, CancellationToken.None);
        await console.CompleteAsync(CancellationToken.None);

        Assert.StartsWith($"{DockerEngineFixture.Registry}/liftoff-test/jobs:{name}-", image.Reference, StringComparison.Ordinal);
        Assert.Matches("^sha256:[0-9a-f]{64}$", image.Digest);
        var (status, digest) = await DockerEngineFixture.RegistryManifestAsync(image.Reference);
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        Assert.Equal(image.Digest, digest);
    }

    [Fact]
    public async Task JobBuild_FromTheCli_BuildsWithoutLaunchingAndReportsTheImage_ThenReusesIt()
    {
        await using var harness = await StartAsync();
        var name = "cli-built-" + Unique();
        await harness.CreateJobAsync(name, new Dictionary<string, string> { ["train.py"] = Train }, PythonTrain);
        using var config = new TempDirectory();
        config.File("agent.yaml", $"builder: {{type: docker, base_image: {DockerEngineFixture.BaseImage}}}\ndocker: {{host: '{docker.Host}', network: host}}\n");

        var first = await CliAsync(harness, "job", "build", name, "--queue", harness.Queue, "--project", AgentHarness.Project, "--config", config.Path + "/agent.yaml", "--json");
        var second = await CliAsync(harness, "job", "build", name, "--queue", harness.Queue, "--project", AgentHarness.Project, "--config", config.Path + "/agent.yaml", "--json");

        Assert.True(first.ExitCode == 0, first.ToString());
        var built = JsonDocument.Parse(first.Stdout).RootElement;
        Assert.True(built.GetProperty("built").GetBoolean());
        Assert.StartsWith($"liftoff-job/{name}:", built.GetProperty("image").GetString(), StringComparison.Ordinal);
        Assert.Contains("Successfully tagged", first.Stderr, StringComparison.Ordinal);
        await docker.Client.Images.InspectImageAsync(built.GetProperty("image").GetString()!);
        Assert.Empty((await harness.Client.ListItemsAsync(harness.Queue)).Items);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.False(JsonDocument.Parse(second.Stdout).RootElement.GetProperty("built").GetBoolean());
        Assert.Equal(built.GetProperty("image").GetString(), JsonDocument.Parse(second.Stdout).RootElement.GetProperty("image").GetString());
    }

    private Task<ProcessResult> CliAsync(AgentHarness harness, params string[] args)
    {
        using var home = new TempDirectory();
        return ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll"), .. args], new Dictionary<string, string?>
        {
            ["HOME"] = home.Path,
            ["LIFTOFF_BASE_URL"] = server.BaseUrl.ToString(),
            ["LIFTOFF_API_KEY"] = harness.Key,
            ["NO_COLOR"] = "1",
        });
    }

    private async Task<AgentHarness> StartAsync(string? queueConfigJson = null) =>
        await AgentHarness.StartAsync(server, maxAttempts: 1, resource: Resources.Docker, queueConfigJson: queueConfigJson);

    private AgentOptions Options(AgentHarness harness)
    {
        Environment.SetEnvironmentVariable(PasswordVariable, DockerEngineFixture.RegistryPassword);
        var options = harness.Options(name: "docker-agent-" + Unique());
        options.Builder = new BuilderSettings { Type = "docker", BaseImage = DockerEngineFixture.BaseImage };
        options.Registry = new RegistrySettings { Uri = $"{DockerEngineFixture.Registry}/liftoff-test/jobs", Username = DockerEngineFixture.RegistryUser, PasswordEnv = PasswordVariable };
        options.SetTarget(new DockerSettings { Host = docker.Host, Network = "host" });
        return options;
    }

    private ServiceProvider Services(AgentHarness harness, AgentOptions options) =>
        new ServiceCollection()
            .AddLogging()
            .AddLiftoffAgent(harness.Server.Client(harness.Key), options)
            .AddTargetRunner(Resources.Docker, options)
            .BuildServiceProvider();

    /// <summary>Claims the next item and starts its container as an agent does, then vanishes without a word, as a killed agent would.</summary>
    private async Task ClaimStartAndVanishAsync(AgentHarness harness, AgentOptions options)
    {
        var client = harness.Client;
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest(options.Name, [harness.Queue]));
        var claim = await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("no item to claim");
        await client.ReportItemAsync(claim.Spec.ItemId, new ItemProgressRequest(claim.Spec.Attempt, ItemStates.Starting));
        await using var services = Services(harness, options);
        var runner = services.GetRequiredKeyedService<ILaunchRunner>(Resources.Docker);
        var jobDefinition = claim.Spec.JobDefinition.Deserialize(LiftoffJsonContext.Default.JobDefinition)!;
        var console = new RunConsole(client, claim.Spec.RunId, TimeProvider.System, NullLogger.Instance);
        using var work = new TempDirectory();
        await runner.StartAsync(new LaunchContext(claim.Spec, jobDefinition, console, client, work.Path), CancellationToken.None);
        await console.CompleteAsync(CancellationToken.None);
    }

    private static async Task<string> CreateImageJobAsync(AgentHarness harness, string name, string image, IReadOnlyList<string> entrypoint)
    {
        await harness.Client.CreateJobAsync(new CreateJobRequest(AgentHarness.Project, name, new JobDefinition(
            JobSourceTypes.Image,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["image"] = image }),
            entrypoint)));
        return name;
    }

    /// <summary>Pushes the job image to the registry as liftoff-test/python:TAG; returns the reference.</summary>
    private async Task<string> PushJobImageAsync(string tag)
    {
        var repository = $"{DockerEngineFixture.Registry}/liftoff-test/python";
        await docker.Client.Images.TagImageAsync(DockerEngineFixture.JobImage, new ImageTagParameters { RepositoryName = repository, Tag = tag });
        var errors = new List<string>();
        await docker.Client.Images.PushImageAsync(repository, new ImagePushParameters { Tag = tag },
            new AuthConfig { ServerAddress = DockerEngineFixture.Registry, Username = DockerEngineFixture.RegistryUser, Password = DockerEngineFixture.RegistryPassword },
            new ErrorCollector(errors));
        Assert.Empty(errors);
        return $"{repository}:{tag}";
    }

    private static async Task<(ItemInfo Item, string Logs, string? Image)> RunToEndAsync(AgentHarness harness, string job)
    {
        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled, "the item to end", 240);
        var logs = done.RunId is { } runId ? await harness.LogsAsync(runId) : "";
        var image = done.RunId is { } id && (await harness.Client.GetRunAsync(id)).Config is { ValueKind: JsonValueKind.Object } config && config.TryGetProperty("_liftoff_image", out var recorded)
            ? recorded.GetString()
            : null;
        return (done, logs, image);
    }

    private static string Unique() => Guid.NewGuid().ToString("N")[..10];
}
