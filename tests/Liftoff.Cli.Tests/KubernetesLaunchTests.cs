using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class KubernetesLaunchTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task LaunchDryRun_OnAKubernetesQueue_PrintsTheJobManifestAsYamlWithoutTheKey()
    {
        using var home = new TempDirectory();
        var (cli, key) = await LogInWithAnImageJobAsync(home);

        var queueConfig = home.File("queue.yaml", """
            spec:
              template:
                spec:
                  containers:
                  - resources:
                      limits:
                        nvidia.com/gpu: "{{gpus}}"
            """);
        var create = await cli.RunAsync("queue", "create", "k8s", "--resource", "kubernetes", "--config", queueConfig, "--template-var", "gpus=integer:1..8");
        var dryRun = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s", "--set-var", "gpus=2", "--dry-run");
        var bad = home.File("bad.yaml", "spec:\n  template:\n    spec:\n      containers:\n      - imagePullPolicy: 3\n");
        var refused = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s", "--set-var", "gpus=2", "--resource-args", bad);

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        Assert.Contains("kind: Job", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Contains("backoffLimit: 0", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Contains("image: registry.example/train:7", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Contains("nvidia.com/gpu: \"2\"", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Contains("secretKeyRef:", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Contains("kind: Secret", dryRun.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(key, dryRun.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("resource_args.spec.template.spec.containers[0].imagePullPolicy", refused.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LaunchDryRun_WithFieldsOfTheCurrentJobApi_PrintsThemAndRefusesAMisspeltOne()
    {
        using var home = new TempDirectory();
        var (cli, _) = await LogInWithAnImageJobAsync(home);

        await cli.RunAsync("queue", "create", "k8s-current", "--resource", "kubernetes");
        var current = home.File("current.yaml", """
            spec:
              completionMode: Indexed
              completions: 2
              backoffLimitPerIndex: 1
              managedBy: kubernetes.io/job-controller
              podFailurePolicy:
                rules:
                - action: FailIndex
                  onExitCodes: {operator: In, values: [42]}
              successPolicy:
                rules:
                - succeededCount: 1
              template:
                spec:
                  initContainers:
                  - name: proxy
                    image: envoy:1
                    restartPolicy: Always
                  containers:
                  - resizePolicy:
                    - resourceName: memory
                      restartPolicy: RestartContainer
            """);
        var misspelt = home.File("misspelt.yaml", "spec:\n  template:\n    spec:\n      containers:\n      - imagePullPolicyy: Always\n");
        var dryRun = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s-current", "--resource-args", current, "--dry-run");
        var refused = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s-current", "--resource-args", misspelt, "--dry-run");

        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        foreach (var line in new[] { "backoffLimitPerIndex: 1", "managedBy: kubernetes.io/job-controller", "action: FailIndex", "succeededCount: 1", "restartPolicy: Always", "restartPolicy: RestartContainer" })
        {
            Assert.Contains(line, dryRun.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("resource_args.spec.template.spec.containers[0].imagePullPolicyy", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("unknown field", refused.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LaunchDryRun_ShowsTheInjectedSecurityContext_AndRefusesAnItemWeakeningItUnlessTheQueueGrantsIt()
    {
        using var home = new TempDirectory();
        var (cli, _) = await LogInWithAnImageJobAsync(home);
        var grant = home.File("grant.yaml", "spec:\n  template:\n    spec:\n      hostNetwork: true\n");
        await cli.RunAsync("queue", "create", "k8s-strict", "--resource", "kubernetes");
        await cli.RunAsync("queue", "create", "k8s-host", "--resource", "kubernetes", "--config", grant);
        var privileged = home.File("privileged.yaml", """
            spec:
              template:
                spec:
                  containers:
                  - {}
                  - name: helper
                    image: busybox
                    securityContext: {privileged: true}
            """);

        var dryRun = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s-strict", "--dry-run");
        var refused = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s-strict", "--resource-args", privileged, "--dry-run");
        var notGranted = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s-strict", "--resource-args", grant);
        var granted = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "k8s-host", "--resource-args", grant, "--dry-run");

        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        foreach (var line in new[] { "allowPrivilegeEscalation: false", "- ALL", "runAsNonRoot: true", "type: RuntimeDefault", "automountServiceAccountToken: false" })
        {
            Assert.Contains(line, dryRun.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("resource_args.spec.template.spec.containers[1].securityContext.privileged", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, notGranted.ExitCode);
        Assert.Contains("resource_args.spec.template.spec.hostNetwork", notGranted.Stderr, StringComparison.Ordinal);
        Assert.True(granted.ExitCode == 0, granted.ToString());
        Assert.Contains("hostNetwork: true", granted.Stdout, StringComparison.Ordinal);
        Assert.Contains("allowPrivilegeEscalation: false", granted.Stdout, StringComparison.Ordinal);
    }

    /// <summary>A new user logged in from <paramref name="home"/>, with the image job <c>train</c> in project <c>mnist</c>.</summary>
    private async Task<(Cli Cli, string Key)> LogInWithAnImageJobAsync(TempDirectory home)
    {
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        using var http = server.Http(key);
        await TestJobs.CreateImageJobAsync(http, "mnist", "train", "registry.example/train:7");
        return (cli, key);
    }
}
