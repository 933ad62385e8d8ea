using Liftoff.Client;
using Liftoff.Targets;
using Liftoff.Targets.Docker;
using Liftoff.Targets.Kubernetes;
using Xunit;

namespace Liftoff.Agent.Tests;

public sealed class AgentConfigFileTests
{
    [Fact]
    public void Apply_WithEverySection_SetsTheOptions()
    {
        var options = new AgentOptions();

        AgentConfigFile.Apply("""
            name: gpu-box
            queues: [train, eval]
            max_jobs: 4
            drain: true
            work_dir: /var/lib/liftoff-agent
            heartbeat_seconds: 2
            stop_grace_seconds: 30
            python: /usr/bin/python3.11
            builder:
              type: kaniko
              cache: ghcr.io/acme/cache
            registry:
              type: generic
              uri: ghcr.io/acme/jobs
              username: bot
              password_env: REGISTRY_PASSWORD
            environment:
              type: aws
              region: eu-west-1
            docker:
              host: tcp://127.0.0.1:2375
              network: bridge
            """, "agent.yaml", options);

        Assert.Equal("gpu-box", options.Name);
        Assert.Equal(["train", "eval"], options.Queues);
        Assert.Equal(4, options.MaxJobs);
        Assert.True(options.Drain);
        Assert.Equal("/var/lib/liftoff-agent", options.WorkDirectory);
        Assert.Equal(TimeSpan.FromSeconds(2), options.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), options.StopGracePeriod);
        Assert.Equal("/usr/bin/python3.11", options.Python);
        Assert.Equal("kaniko", options.Builder?.Type);
        Assert.Equal("ghcr.io/acme/jobs", options.Registry?.Uri);
        Assert.Equal("REGISTRY_PASSWORD", options.Registry?.PasswordEnv);
        Assert.Equal("eu-west-1", options.Environment?.Region);
        Assert.Equal("tcp://127.0.0.1:2375", options.Target<DockerSettings>().Host);
        Assert.Equal("bridge", options.Target<DockerSettings>().Network);
        Assert.Empty(AgentConfigFile.Validate(options));
    }

    [Fact]
    public void Apply_WithAKubernetesSection_SetsTheClusterSettings()
    {
        var options = new AgentOptions();

        AgentConfigFile.Apply("""
            kubernetes:
              kubeconfig: /etc/liftoff/kubeconfig
              context: prod
              namespace: ml
              image_pull_secrets: [regcred]
              server_url: http://liftoff.ml.svc:8080
              ttl_seconds_after_finished: 600
              pending_timeout_seconds: 120
              poll_seconds: 1
            """, "agent.yaml", options);

        Assert.Equal("/etc/liftoff/kubeconfig", options.Target<KubernetesSettings>().Kubeconfig);
        Assert.Equal("prod", options.Target<KubernetesSettings>().Context);
        Assert.Equal("ml", options.Target<KubernetesSettings>().Namespace);
        Assert.Equal(["regcred"], options.Target<KubernetesSettings>().ImagePullSecrets!);
        Assert.Equal("http://liftoff.ml.svc:8080", options.Target<KubernetesSettings>().ServerUrl);
        Assert.Equal(600, options.Target<KubernetesSettings>().TtlSecondsAfterFinished);
        Assert.Equal(120, options.Target<KubernetesSettings>().PendingTimeoutSeconds);
    }

    [Theory]
    [InlineData("kubernetes:\n  kube_config: /k", "kube_config")]
    [InlineData("kubernetes:\n  namespace: ML_Team", "kubernetes.namespace")]
    [InlineData("kubernetes:\n  in_cluster: true\n  context: prod", "kubernetes.in_cluster")]
    [InlineData("kubernetes:\n  server_url: liftoff:8080", "kubernetes.server_url")]
    [InlineData("kubernetes:\n  image_pull_secrets: [Reg_Cred]", "kubernetes.image_pull_secrets")]
    [InlineData("kubernetes:\n  pending_timeout_seconds: 0", "kubernetes.pending_timeout_seconds")]
    public void Apply_WithABadKubernetesSetting_NamesIt(string yaml, string key)
    {
        var error = Assert.Throws<LiftoffException>(() => AgentConfigFile.Apply(yaml, "agent.yaml", new AgentOptions()));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("max_job: 2", "line 1", "max_job")]
    [InlineData("builder:\n  type: docker\n  context: .", "line 3", "context")]
    public void Apply_WithAnUnknownKey_NamesItAndItsLine(string yaml, string line, string key)
    {
        var error = Assert.Throws<LiftoffException>(() => AgentConfigFile.Apply(yaml, "agent.yaml", new AgentOptions()));

        Assert.Contains($"agent.yaml {line}", error.Message, StringComparison.Ordinal);
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_WithInvalidValues_ListsEveryProblemByKey()
    {
        var error = Assert.Throws<LiftoffException>(() => AgentConfigFile.Apply("""
            max_jobs: 0
            queues: ["no spaces allowed"]
            builder: {type: buildah}
            registry: {uri: "https://ghcr.io/acme"}
            environment: {type: gcp}
            docker: {host: "/var/run/docker.sock", network: ""}
            """, "agent.yaml", new AgentOptions()));

        Assert.Contains("max_jobs: at least 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("queues: 'no spaces allowed'", error.Message, StringComparison.Ordinal);
        Assert.Contains("builder.type: one of docker, kaniko, noop, not 'buildah'", error.Message, StringComparison.Ordinal);
        Assert.Contains("registry.uri:", error.Message, StringComparison.Ordinal);
        Assert.Contains("environment.region: required for gcp", error.Message, StringComparison.Ordinal);
        Assert.Contains("docker.host: an engine address such as unix:///var/run/docker.sock", error.Message, StringComparison.Ordinal);
        Assert.Contains("docker.network:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_CloudEnvironmentSettings_SetsEndpointsCredentialsAndPolling()
    {
        var options = new AgentOptions();
        var keyFile = Path.GetTempFileName();
        try
        {
            AgentConfigFile.Apply($"""
                environment:
                  type: gcp
                  region: europe-west4
                  account: acme-ml
                  vertex_endpoint: https://europe-west4-aiplatform.googleapis.com
                  logging_endpoint: http://127.0.0.1:8085
                  credentials_file: {keyFile}
                  poll_seconds: 0.5
                """, "agent.yaml", options);
        }
        finally
        {
            File.Delete(keyFile);
        }

        Assert.Equal("https://europe-west4-aiplatform.googleapis.com", options.Environment?.VertexEndpoint);
        Assert.Equal("http://127.0.0.1:8085", options.Environment?.LoggingEndpoint);
        Assert.Equal(keyFile, options.Environment?.CredentialsFile);
        Assert.Equal(TimeSpan.FromSeconds(0.5), options.Environment?.PollInterval);
    }

    [Fact]
    public void Apply_BadCloudEnvironmentSettings_NamesEachKey()
    {
        var error = Assert.Throws<LiftoffException>(() => AgentConfigFile.Apply("""
            environment:
              type: aws
              region: eu-west-1
              sagemaker_endpoint: api.sagemaker.eu-west-1.amazonaws.com
              credentials_file: /nonexistent/key.json
              poll_seconds: 0
            """, "agent.yaml", new AgentOptions()));

        Assert.Contains("environment.sagemaker_endpoint", error.Message, StringComparison.Ordinal);
        Assert.Contains("environment.credentials_file", error.Message, StringComparison.Ordinal);
        Assert.Contains("environment.poll_seconds", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WithoutQueues_AsksForOne()
    {
        Assert.Contains("no queue to poll: give --queue NAME (or queues: in the config file)", AgentConfigFile.Validate(new AgentOptions()));
    }
}
