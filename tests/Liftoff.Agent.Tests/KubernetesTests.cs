using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets;
using Liftoff.Targets.Kubernetes;
using Liftoff.Testing;
using Liftoff.Testing.Kubernetes;
using Xunit;

namespace Liftoff.Agent.Tests;

/// <summary>
/// The kubernetes runner through the real agent and server against the stand-in API server, which checks every object
/// against the Kubernetes OpenAPI definitions and runs the pod's command as a local process.
/// </summary>
public sealed class KubernetesTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Image = "registry.example/jobs/train:1";

    [Fact]
    public async Task Agent_WhenAnImageJobIsEnqueued_RunsItAsAJobWithTheKeyInASecretAndStreamsTheLog()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        await using var harness = await StartAsync(standIn);
        var job = await CreateJobAsync(harness, "train", Image, """
            import os, liftoff
            run = liftoff.init()
            print("hello from the pod, run", run.id, "key from the secret:", os.environ["LIFTOFF_API_KEY"] != "")
            liftoff.log({"loss": 0.5})
            liftoff.finish()
            """);
        await StartAgentAsync(harness, standIn);

        var item = await harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project,
            ResourceArgs: JsonDocument.Parse("""{"metadata": {"labels": {"team": "vision"}}, "spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"memory": "1Gi"}}}]}}}}""").RootElement));
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.Contains(standIn.Requests, r => r.StartsWith("GET /api/v1/namespaces/ml/pods?", StringComparison.Ordinal) && r.Contains("watch=true", StringComparison.Ordinal));
        var run = await harness.Client.GetRunAsync(done.RunId!);
        Assert.Equal(RunStates.Finished, run.State);
        Assert.Contains($"hello from the pod, run {run.Id} key from the secret: True", await harness.LogsAsync(run.Id), StringComparison.Ordinal);
        var (name, manifest) = Assert.Single(standIn.Jobs);
        Assert.Equal($"liftoff-{run.Id.ToLowerInvariant()}-1", name);
        Assert.Equal(0, manifest["spec"]!["backoffLimit"]!.GetValue<int>());
        var labels = manifest["metadata"]!["labels"]!;
        Assert.Equal("vision", labels["team"]!.GetValue<string>());
        Assert.Equal(item.Id, labels[KubernetesJobs.ItemLabel]!.GetValue<string>());
        Assert.Equal(harness.Queue, labels[KubernetesJobs.QueueLabel]!.GetValue<string>());
        Assert.Equal("1Gi", manifest["spec"]!["template"]!["spec"]!["containers"]![0]!["resources"]!["limits"]!["memory"]!.GetValue<string>());
        var pod = manifest["spec"]!["template"]!["spec"]!.AsObject();
        Assert.Equal("RuntimeDefault", pod["securityContext"]!["seccompProfile"]!["type"]!.GetValue<string>());
        Assert.False(pod["containers"]![0]!["securityContext"]!["allowPrivilegeEscalation"]!.GetValue<bool>());
        Assert.Empty(PodSecurityAdmission.Evaluate(PodSecurityLevel.Restricted, manifest["spec"]!["template"]!["metadata"] as JsonObject, pod));
        Assert.Empty(standIn.PodRefusals);
        var key = Assert.Single(standIn.SecretValues.Distinct());
        Assert.StartsWith("local-", key, StringComparison.Ordinal);
        Assert.DoesNotContain(key, manifest.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain(key, await harness.LogsAsync(run.Id), StringComparison.Ordinal);
        await Poll.UntilAsync(() => Task.FromResult(standIn.SecretNames.Count), c => c == 0, TimeSpan.FromSeconds(10), "the Secret to be deleted");
    }

    [Theory]
    [InlineData(PodScenario.ErrImagePull, "ErrImagePull")]
    [InlineData(PodScenario.ImagePullBackOff, "ImagePullBackOff")]
    [InlineData(PodScenario.Unschedulable, "Unschedulable")]
    public async Task Agent_WhenThePodStaysPending_FailsTheItemNamingTheReason(PodScenario scenario, string reason)
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.Scenarios["registry.example/jobs/pending:1"] = scenario;
        await using var harness = await StartAsync(standIn);
        var job = await CreateJobAsync(harness, "pending", "registry.example/jobs/pending:1", "print('never runs')");
        await StartAgentAsync(harness, standIn, pendingTimeoutSeconds: 1, pollSeconds: 0.2);

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(scenario == PodScenario.Unschedulable ? ItemPhases.Submit : ItemPhases.Pull, done.Phase);
        Assert.Contains(reason, done.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("never called init", done.Error, StringComparison.Ordinal);
        Assert.Contains($"is pending: {reason}", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.Contains(standIn.Requests, r => r.StartsWith("DELETE /apis/batch/v1/namespaces/ml/jobs/", StringComparison.Ordinal) && r.Contains("propagationPolicy=Foreground", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_WhileThePodIsPending_ShowsItsReasonOnTheItem_UntilTheItemEnds()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.Scenarios["registry.example/jobs/waits:1"] = PodScenario.Unschedulable;
        await using var harness = await StartAsync(standIn);
        var job = await CreateJobAsync(harness, "waits", "registry.example/jobs/waits:1", "print('never runs')");
        await StartAgentAsync(harness, standIn, pendingTimeoutSeconds: 600, pollSeconds: 0.2);

        var item = await harness.EnqueueAsync(job);
        var waiting = await harness.WaitForItemAsync(item.Id, i => i.WaitingReason is not null, "the pod's pending reason on the item");
        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to be cancelled");

        Assert.StartsWith("Unschedulable", waiting.WaitingReason, StringComparison.Ordinal);
        Assert.Equal(ItemStates.Running, waiting.State);
        Assert.Equal(ItemStates.Cancelled, done.State);
        Assert.Null(done.WaitingReason);
    }

    [Theory]
    [InlineData(PodScenario.OomKilled, "OOMKilled")]
    [InlineData(PodScenario.Evicted, "evicted")]
    public async Task Agent_WhenThePodIsKilledByTheCluster_FailsTheItemNamingWhy(PodScenario scenario, string reason)
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.Scenarios["registry.example/jobs/big:1"] = scenario;
        await using var harness = await StartAsync(standIn, maxAttempts: 1);
        var job = await CreateJobAsync(harness, "big", "registry.example/jobs/big:1", "print('too big')");
        await StartAgentAsync(harness, standIn);

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Contains(reason, done.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_WhenTheItemIsCancelled_DeletesTheJobWithItsPods()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        await using var harness = await StartAsync(standIn);
        var job = await CreateJobAsync(harness, "long", Image, """
            import time, liftoff
            liftoff.init()
            print("started", flush=True)
            time.sleep(300)
            """);
        await StartAgentAsync(harness, standIn);

        var item = await harness.EnqueueAsync(job);
        var running = await harness.WaitForItemAsync(item.Id, i => i.RunId is not null && i.State == ItemStates.Running, "the item to run");
        await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("started", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the pod's first line");
        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to end");

        Assert.Equal(ItemStates.Cancelled, done.State);
        Assert.Empty(standIn.Jobs);
        Assert.Contains(standIn.Requests, r => r.StartsWith("DELETE /apis/batch/v1/namespaces/ml/jobs/", StringComparison.Ordinal) && r.Contains("propagationPolicy=Foreground", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_WhenTheApiServerIsBrieflyUnavailable_KeepsWatchingTheJob()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        await using var harness = await StartAsync(standIn);
        using var marks = new TempDirectory();
        var proceed = Path.Combine(marks.Path, "proceed");
        var job = await CreateJobAsync(harness, "patient", Image, $$"""
            import os, time, liftoff
            liftoff.init()
            while not os.path.exists({{JsonSerializer.Serialize(proceed)}}):
                time.sleep(0.05)
            print("done waiting", flush=True)
            liftoff.finish()
            """);
        await StartAgentAsync(harness, standIn);

        var item = await harness.EnqueueAsync(job);
        await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to run");
        var before = standIn.Requests.Count;
        standIn.FailReads(6);
        File.WriteAllText(proceed, "");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.True(standIn.Requests.Skip(before).Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && !r.Contains("/log", StringComparison.Ordinal)) > 6, "the agent read through the 503s");
        Assert.Contains("done waiting", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_WhenKilledAndRestarted_ReattachesToItsJobByLabel()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        await using var harness = await StartAsync(standIn);
        using var marks = new TempDirectory();
        var proceed = Path.Combine(marks.Path, "proceed");
        var job = await CreateJobAsync(harness, "survivor", Image, $$"""
            import os, time, liftoff
            liftoff.init()
            print("before the agent died", flush=True)
            while not os.path.exists({{JsonSerializer.Serialize(proceed)}}):
                time.sleep(0.05)
            print("after the agent came back", flush=True)
            liftoff.finish()
            """);
        var config = marks.File("agent.yaml", $"""
            name: k8s-agent
            queues: [{harness.Queue}]
            kubernetes:
              kubeconfig: {standIn.WriteKubeconfig(marks.Path)}
              poll_seconds: 600
            """);
        var item = await harness.EnqueueAsync(job);
        using (var first = AgentProcess.Start(server.BaseUrl, harness.Key, "--config", config, "--work-dir", Path.Combine(harness.Work.Path, "first")))
        {
            var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running && i.RunId is not null, "the first agent to start the Job");
            await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("before the agent died", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the pod's first line");
            first.Signal("KILL");
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        var options = harness.Options(name: "k8s-agent");
        options.SetTarget(new KubernetesSettings { Kubeconfig = standIn.WriteKubeconfig(harness.Work.Path), PollSeconds = 600 });
        await harness.StartAgentAsync(options, s => s.AddTargetRunner(Resources.Kubernetes, options));
        await Poll.UntilAsync(() => Task.FromResult(standIn.Requests.Count(r => r.StartsWith("GET /apis/batch/v1/namespaces/ml/jobs?", StringComparison.Ordinal))), c => c > 0, TimeSpan.FromSeconds(30), "the new agent to look for its Jobs");
        File.WriteAllText(proceed, "");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.Equal(1, done.Attempt);
        Assert.Single(standIn.Jobs);
        Assert.Single(standIn.Requests, r => r.StartsWith("POST /apis/batch/v1/namespaces/ml/jobs", StringComparison.Ordinal));
        var logs = await harness.LogsAsync(done.RunId!);
        Assert.True(logs.Contains("after the agent came back", StringComparison.Ordinal), logs + "\n" + string.Join("\n", standIn.Requests));
        Assert.Single(logs.Split('\n'), l => l == "before the agent died");
        Assert.Equal(RunStates.Finished, (await harness.Client.GetRunAsync(done.RunId!)).State);
    }

    [Fact]
    public async Task Agent_WhenTheQueuesContainerNamesAMissingSecret_FailsTheItemWithCreateContainerConfigError()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.ImageEnvironment["PYTHONPATH"] = Repo.PythonSdk;
        // Only a queue's own config may name a cluster Secret; an item naming one is refused at enqueue (PodSecurityTests).
        await using var harness = await AgentHarness.StartAsync(server, resource: Resources.Kubernetes,
            queueConfigJson: """{"spec": {"template": {"spec": {"containers": [{"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}]}}}}""");
        var job = await CreateJobAsync(harness, "misconfigured", Image, "print('never runs')");
        await StartAgentAsync(harness, standIn, pendingTimeoutSeconds: 1, pollSeconds: 0.2);

        var item = await harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project));
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Contains("CreateContainerConfigError", done.Error, StringComparison.Ordinal);
        Assert.Contains("secret \"db\"", done.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_WithSecretReferences_PutsTheValuesInTheJobsSecretReadThroughSecretKeyRef_AndRedactsThem()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.ImageEnvironment["PYTHONPATH"] = Repo.PythonSdk;
        await using var harness = await AgentHarness.StartAsync(server, maxAttempts: 1, resource: Resources.Kubernetes);
        var value = "pw-" + Guid.NewGuid().ToString("N");
        await harness.Client.SetSecretAsync("DATA_ACCESS", value);
        var job = await CreateJobAsync(harness, "uses-secret", Image, SecretsTests.Job);
        await StartAgentAsync(harness, standIn, pollSeconds: 0.2);

        var item = await harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project, ResourceArgs: JsonDocument.Parse("""
            {"spec": {"template": {"spec": {"containers": [{"env": [
              {"name": "DATA_ACCESS", "value": "${secret:DATA_ACCESS}"}, {"name": "AUTH_HEADER", "value": "Bearer ${secret:DATA_ACCESS}"}]}]}}}}
            """).RootElement));
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        await SecretsTests.AssertDeliveredAndRedactedAsync(harness, done, value, errorQuotesStderr: false);
        var (name, manifest) = Assert.Single(standIn.Jobs);
        Assert.DoesNotContain(value, manifest.ToJsonString(), StringComparison.Ordinal);
        var env = manifest["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray();
        var reference = env.Single(v => v!["name"]!.GetValue<string>() == "DATA_ACCESS")!["valueFrom"]!["secretKeyRef"]!;
        Assert.Equal(name, reference["name"]!.GetValue<string>());
        Assert.Contains(value, standIn.SecretValues);
        Assert.Contains("Bearer " + value, standIn.SecretValues);
        await Poll.UntilAsync(() => Task.FromResult(standIn.SecretNames.Count), c => c == 0, TimeSpan.FromSeconds(10), "the Secret to be deleted with its Job");
    }

    [Fact]
    public async Task Agent_WithoutABuilder_FailsACodeJobInBuildSayingHowToEnableBuilding()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        await using var harness = await StartAsync(standIn);
        var job = await harness.CreateJobAsync("unbuilt", new Dictionary<string, string> { ["train.py"] = "print('never runs')" }, ["python", "train.py"]);
        await StartAgentAsync(harness, standIn);

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Build, done.Phase);
        Assert.Contains("builder is noop", done.Error, StringComparison.Ordinal);
        Assert.Contains("builder: {type: docker}", done.Error, StringComparison.Ordinal);
        Assert.Empty(standIn.Jobs);
    }

    [Fact]
    public async Task Agent_WhenTheJobUsesFieldsOfTheCurrentApi_EnqueuesAndRunsItWithThem()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        await using var harness = await StartAsync(standIn);
        var job = await CreateJobAsync(harness, "current", Image, "import liftoff; liftoff.init(); liftoff.finish()");
        await StartAgentAsync(harness, standIn);

        var item = await harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project, ResourceArgs: JsonDocument.Parse("""
            {"spec": {"completionMode": "Indexed", "completions": 1, "parallelism": 1, "backoffLimitPerIndex": 0,
                      "managedBy": "kubernetes.io/job-controller",
                      "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}]},
                      "successPolicy": {"rules": [{"succeededIndexes": "0"}]},
                      "template": {"spec": {
                          "initContainers": [{"name": "proxy", "image": "envoy:1", "restartPolicy": "Always"}],
                          "containers": [{"resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]}]}}}}
            """).RootElement));
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        var spec = Assert.Single(standIn.Jobs).Value["spec"]!;
        Assert.Equal("kubernetes.io/job-controller", spec["managedBy"]!.GetValue<string>());
        Assert.Equal(0, spec["backoffLimitPerIndex"]!.GetValue<int>());
        Assert.Equal("FailJob", spec["podFailurePolicy"]!["rules"]![0]!["action"]!.GetValue<string>());
        Assert.Equal("0", spec["successPolicy"]!["rules"]![0]!["succeededIndexes"]!.GetValue<string>());
        Assert.Equal("Always", spec["template"]!["spec"]!["initContainers"]![0]!["restartPolicy"]!.GetValue<string>());
        Assert.Equal("NotRequired", spec["template"]!["spec"]!["containers"]![0]!["resizePolicy"]![0]!["restartPolicy"]!.GetValue<string>());
    }

    [Fact]
    public async Task Agent_WhenTheQueueGrantsFields_RunsTheJobWithThemInANamespaceThatAllowsThem()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.PodSecurity = PodSecurityLevel.Privileged;
        standIn.ImageEnvironment["PYTHONPATH"] = Repo.PythonSdk;
        const string Granted = """
            {"spec": {"template": {"spec": {"hostNetwork": true,
              "initContainers": [{"name": "tune", "image": "busybox", "securityContext": {"privileged": true}}],
              "containers": [{"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}]}}}}
            """;
        await using var harness = await AgentHarness.StartAsync(server, resource: Resources.Kubernetes, queueConfigJson: Granted);
        var job = await CreateJobAsync(harness, "granted", Image, "import liftoff; liftoff.init(); liftoff.finish()");
        await StartAgentAsync(harness, standIn);

        var item = await harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project));
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        var (_, manifest) = Assert.Single(standIn.Jobs);
        var pod = manifest["spec"]!["template"]!["spec"]!.AsObject();
        Assert.True(pod["hostNetwork"]!.GetValue<bool>());
        Assert.True(pod["initContainers"]![0]!["securityContext"]!["privileged"]!.GetValue<bool>());
        Assert.Equal("SYS_PTRACE", pod["containers"]![0]!["securityContext"]!["capabilities"]!["add"]![0]!.GetValue<string>());
        var forbidden = PodSecurityAdmission.Evaluate(PodSecurityLevel.Restricted, null, pod);
        Assert.Contains(forbidden, f => f.StartsWith("host namespaces (hostNetwork=true)", StringComparison.Ordinal));
        Assert.Contains(forbidden, f => f.StartsWith("privileged (container \"tune\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_WhenTheNamespaceRefusesWhatTheQueueGrants_FailsTheItemAfterThePendingTimeout()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.ImageEnvironment["PYTHONPATH"] = Repo.PythonSdk;
        await using var harness = await AgentHarness.StartAsync(server, maxAttempts: 1, resource: Resources.Kubernetes,
            queueConfigJson: """{"spec": {"template": {"spec": {"hostNetwork": true}}}}""");
        var job = await CreateJobAsync(harness, "hosted", Image, "print('never')");
        await StartAgentAsync(harness, standIn, pendingTimeoutSeconds: 1, pollSeconds: 0.2);

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Submit, done.Phase);
        Assert.Contains("made no pod", done.Error, StringComparison.Ordinal);
        Assert.Contains("host namespaces (hostNetwork=true)", Assert.Single(standIn.PodRefusals)["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(standIn.Requests, r => r.StartsWith("DELETE /apis/batch/v1/namespaces/ml/jobs/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_WhenTheQueueNoLongerGrantsWhatAnItemSets_FailsItWithoutMakingAJob()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        const string Privileged = """{"spec": {"template": {"spec": {"containers": [{"securityContext": {"privileged": true}}]}}}}""";
        await using var harness = await AgentHarness.StartAsync(server, maxAttempts: 1, resource: Resources.Kubernetes, queueConfigJson: Privileged);
        var job = await CreateJobAsync(harness, "revoked", Image, "print('never')");
        var item = await harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project, ResourceArgs: JsonDocument.Parse(Privileged).RootElement));

        // The queue's owner takes the grant back after the item was accepted (no API edits a queue's config yet).
        await using (var database = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, "liftoff.db")}"))
        {
            await database.OpenAsync();
            await using var update = database.CreateCommand();
            update.CommandText = "UPDATE queues SET config = '{}' WHERE name = $name";
            update.Parameters.AddWithValue("$name", harness.Queue);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        await StartAgentAsync(harness, standIn);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Submit, done.Phase);
        Assert.Contains("spec.template.spec.containers[0].securityContext.privileged", done.Error, StringComparison.Ordinal);
        Assert.Empty(standIn.Jobs);
    }

    [Theory]
    [InlineData(PodSecurityLevel.Restricted, """{"hostNetwork": true}""", "host namespaces (hostNetwork=true)")]
    [InlineData(PodSecurityLevel.Restricted, """{"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}""", "restricted volume types (volume \"root\" uses restricted volume type \"hostPath\")")]
    [InlineData(PodSecurityLevel.Restricted, "{}", "allowPrivilegeEscalation != false (container \"main\" must set securityContext.allowPrivilegeEscalation=false)")]
    [InlineData(PodSecurityLevel.Baseline, """{"hostPID": true}""", "host namespaces (hostPID=true)")]
    public async Task StandIn_WhenAJobsPodBreaksTheNamespacesLevel_CreatesTheJobWithAWarningAndRefusesThePodWith403(PodSecurityLevel level, string pod, string reason)
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.PodSecurity = level;
        using var http = new HttpClient { BaseAddress = new Uri(standIn.Url) };
        var spec = JsonNode.Parse(pod)!.AsObject();
        spec["restartPolicy"] = "Never";
        spec["containers"] = JsonNode.Parse("""[{"name": "main", "image": "busybox", "command": ["true"]}]""");
        using var body = new StringContent(new JsonObject
        {
            ["apiVersion"] = "batch/v1", ["kind"] = "Job", ["metadata"] = new JsonObject { ["name"] = "loose" },
            ["spec"] = new JsonObject { ["template"] = new JsonObject { ["spec"] = spec } },
        }.ToJsonString(), System.Text.Encoding.UTF8, "application/json");

        using var response = await http.PostAsync(new Uri("/apis/batch/v1/namespaces/ml/jobs", UriKind.Relative), body);
        var pods = JsonNode.Parse(await http.GetStringAsync(new Uri("/api/v1/namespaces/ml/pods?labelSelector=job-name%3Dloose", UriKind.Relative)))!;

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains($"would violate PodSecurity \\\"{level.ToString().ToLowerInvariant()}:latest\\\"", string.Join("", response.Headers.GetValues("Warning")), StringComparison.Ordinal);
        var refusal = Assert.Single(standIn.PodRefusals);
        Assert.Equal(403, refusal["code"]!.GetValue<int>());
        Assert.Equal("Forbidden", refusal["reason"]!.GetValue<string>());
        Assert.Contains($"violates PodSecurity \"{level.ToString().ToLowerInvariant()}:latest\": ", refusal["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(reason, refusal["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(pods["items"]!.AsArray());
    }

    [Fact]
    public async Task Enqueue_WhenTheJobManifestHasAnInvalidField_IsRefusedNamingItsPath()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        await using var harness = await StartAsync(standIn);
        var job = await CreateJobAsync(harness, "bad", Image, "print('no')");

        var refused = await Assert.ThrowsAsync<LiftoffException>(() => harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project,
            ResourceArgs: JsonDocument.Parse("""{"spec": {"template": {"spec": {"containers": [{"resources": {"limitz": {}}}]}}}}""").RootElement)));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("resource_args.spec.template.spec.containers[0].resources.limitz", refused.Message, StringComparison.Ordinal);
        var items = await harness.Client.ListItemsAsync(harness.Queue);
        Assert.Empty(items.Items);
    }

    [Theory]
    [InlineData("\"comand\": [\"true\"]", "spec.template.spec.containers[0].comand")]
    [InlineData("\"resources\": {\"limits\": {\"memory\": true}}", "spec.template.spec.containers[0].resources.limits.memory")]
    [InlineData("\"ports\": [{\"containerPort\": \"http\"}]", "spec.template.spec.containers[0].ports[0].containerPort")]
    [InlineData("\"imagePullPolicyy\": \"Always\"", "spec.template.spec.containers[0].imagePullPolicyy")]
    [InlineData("\"resizePolicy\": {\"resourceName\": \"cpu\"}", "spec.template.spec.containers[0].resizePolicy")]
    public async Task StandIn_WhenAJobBreaksTheOpenApiSchema_RefusesItWith422NamingTheField(string container, string field)
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(standIn.Url) };
        using var body = new StringContent(
            """{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "typo"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox", """
            + container + "}]}}}}", System.Text.Encoding.UTF8, "application/json");

        using var response = await http.PostAsync(new Uri("/apis/batch/v1/namespaces/ml/jobs", UriKind.Relative), body);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Invalid", status.GetProperty("reason").GetString());
        Assert.Contains(status.GetProperty("details").GetProperty("causes").EnumerateArray(), c => c.GetProperty("field").GetString() == field);
        Assert.Empty(standIn.Jobs);
    }

    [Fact]
    public async Task StandIn_ThroughTheOfficialClient_RefusesAnInvalidNameAndOrphansPodsWithoutPropagation()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.PodSecurity = PodSecurityLevel.Privileged;
        using var work = new TempDirectory();
        using var client = new k8s.Kubernetes(k8s.KubernetesClientConfiguration.BuildConfigFromConfigFile(standIn.WriteKubeconfig(work.Path)));
        var bad = Job("Not_A_Name");
        var good = Job("sleeper");

        var refused = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => k8s.BatchV1OperationsExtensions.CreateNamespacedJobAsync(client.BatchV1, bad, "ml"));
        await k8s.BatchV1OperationsExtensions.CreateNamespacedJobAsync(client.BatchV1, good, "ml");
        await k8s.BatchV1OperationsExtensions.DeleteNamespacedJobAsync(client.BatchV1, "sleeper", "ml");
        var pods = await k8s.CoreV1OperationsExtensions.ListNamespacedPodAsync(client.CoreV1, "ml", labelSelector: "job-name=sleeper");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Response.StatusCode);
        Assert.Contains("metadata.name", refused.Response.Content, StringComparison.Ordinal);
        Assert.Single(pods.Items);
    }

    private static k8s.Models.V1Job Job(string name) => new()
    {
        ApiVersion = "batch/v1",
        Kind = "Job",
        Metadata = new() { Name = name },
        Spec = new()
        {
            Template = new()
            {
                Spec = new()
                {
                    RestartPolicy = "Never",
                    Containers = [new() { Name = "main", Image = "busybox", Command = [Python.Executable, "-c", "import time; time.sleep(30)"] }],
                },
            },
        },
    };

    /// <summary>A harness on the stand-in; <paramref name="maxAttempts"/> 1 where a test wants the first failure final, not retried.</summary>
    private async Task<AgentHarness> StartAsync(KubernetesStandIn standIn, int maxAttempts = 3)
    {
        standIn.ImageEnvironment["PYTHONPATH"] = Repo.PythonSdk;
        return await AgentHarness.StartAsync(server, maxAttempts, resource: Resources.Kubernetes);
    }

    private static async Task<string> CreateJobAsync(AgentHarness harness, string name, string image, string script)
    {
        await harness.Client.CreateJobAsync(new CreateJobRequest(AgentHarness.Project, name, new JobDefinition(
            JobSourceTypes.Image, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["image"] = image }), [Python.Executable, "-c", script])));
        return name;
    }

    /// <summary>
    /// An in-process agent on the stand-in. With the default poll interval (600 s) only watch events can move a launch on
    /// within the tests' deadlines; the pending-timeout tests need the clock and poll often.
    /// </summary>
    private static Task<RunningAgent> StartAgentAsync(AgentHarness harness, KubernetesStandIn standIn, double pendingTimeoutSeconds = 600, double pollSeconds = 600)
    {
        var options = harness.Options();
        options.SetTarget(new KubernetesSettings
        {
            Kubeconfig = standIn.WriteKubeconfig(harness.Work.Path),
            PollSeconds = pollSeconds,
            PendingTimeoutSeconds = pendingTimeoutSeconds,
        });
        return harness.StartAgentAsync(options, s => s.AddTargetRunner(Resources.Kubernetes, options));
    }
}
