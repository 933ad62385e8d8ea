using System.Net;
using Liftoff.Contracts;
using Liftoff.Targets;
using Liftoff.Targets.Builders;
using Liftoff.Targets.Docker;
using Liftoff.Targets.Kubernetes;
using Liftoff.Testing;
using Liftoff.Testing.Kubernetes;
using Xunit;

namespace Liftoff.Agent.Tests.Docker;

/// <summary>
/// A code job on a cluster: the docker builder builds its image and pushes it to the agent's registry, and the Job runs
/// that pushed image. The Kubernetes stand-in runs its pods on the real Docker engine, as a kubelet would.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ClusterBuildTests(ServerFixture server, DockerEngineFixture docker) : IClassFixture<ServerFixture>
{
    private const string PasswordVariable = "LIFTOFF_TEST_CLUSTER_REGISTRY_PASSWORD";

    [Fact]
    public async Task CodeJob_OnAKubernetesQueue_IsBuiltPushedToTheRegistryAndRunFromIt()
    {
        await using var standIn = await KubernetesStandIn.StartAsync();
        standIn.DockerHost = docker.Host;
        await using var harness = await AgentHarness.StartAsync(server, maxAttempts: 1, resource: Resources.Kubernetes);
        var job = await harness.CreateJobAsync("cluster-" + Guid.NewGuid().ToString("N")[..8], new Dictionary<string, string>
        {
            ["train.py"] = """
                import os, sys
                import liftoff
                run = liftoff.init()
                print("in the pod's image with", sys.executable, "key set:", os.environ["LIFTOFF_API_KEY"] != "")
                liftoff.log({"loss": 0.25})
                liftoff.finish()
                """,
        }, ["python", "train.py"]);
        Environment.SetEnvironmentVariable(PasswordVariable, DockerEngineFixture.RegistryPassword);
        var options = harness.Options(name: "cluster-agent");
        options.Builder = new BuilderSettings { Type = "docker", BaseImage = DockerEngineFixture.BaseImage };
        options.Registry = new RegistrySettings { Uri = $"{DockerEngineFixture.Registry}/liftoff-test/cluster", Username = DockerEngineFixture.RegistryUser, PasswordEnv = PasswordVariable };
        options.SetTarget(new DockerSettings { Host = docker.Host, Network = "host" });
        options.SetTarget(new KubernetesSettings { Kubeconfig = standIn.WriteKubeconfig(harness.Work.Path) });
        await harness.StartAgentAsync(options, s => s.AddTargetRunner(Resources.Docker, options).AddTargetRunner(Resources.Kubernetes, options));

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end", 240);

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        var (_, manifest) = Assert.Single(standIn.Jobs);
        var image = manifest["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>();
        Assert.StartsWith($"{DockerEngineFixture.Registry}/liftoff-test/cluster:{job}-", image, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await DockerEngineFixture.RegistryManifestAsync(image)).Status);
        var logs = await harness.LogsAsync(done.RunId!);
        Assert.Contains("in the pod's image with /opt/liftoff/venv/bin/python key set: True", logs, StringComparison.Ordinal);
        Assert.Contains("creating Job ml/", logs, StringComparison.Ordinal);
        var history = await harness.Client.ReadHistoryAsync(done.RunId!).ToListAsync();
        Assert.Contains(history, r => r.Values.TryGetProperty("loss", out var loss) && loss.GetDouble() == 0.25);
    }
}
