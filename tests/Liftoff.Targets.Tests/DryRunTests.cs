using System.Text.Json;
using Liftoff.Contracts;
using Xunit;

namespace Liftoff.Targets.Tests;

/// <summary><c>launch --dry-run</c> as each target prints it.</summary>
public sealed class DryRunTests
{
    private const string Variables = """{"QUEUE_VAR": "from <queue>", "PROMPT": "line one\nline two", "HF_TOKEN": "${secret:HF_TOKEN}", "THREADS": 3, "DEBUG": true, "GREETING": "grüße"}""";

    public static TheoryData<string, string> EnvironmentTargets => new()
    {
        { Resources.LocalProcess, """{"env": """ + Variables + "}" },
        { Resources.Docker, """{"cpus": 2, "env": """ + Variables + "}" },
        { Resources.SageMaker, """{"ResourceConfig": {"InstanceType": "ml.m5.large"}, "Environment": """ + Variables + "}" },
        { Resources.Vertex, """{"workerPoolSpecs": [{"machineSpec": {"machineType": "n1-standard-4"}, "replicaCount": "1"}], "env": """ + Variables + "}" },
    };

    [Theory]
    [MemberData(nameof(EnvironmentTargets))]
    public void RenderDryRun_PrintsReadableYamlWithEveryVariableTheJobGets(string resource, string resourceConfig)
    {
        var yaml = TargetRegistry.Find(resource)!.RenderDryRun(Spec(resource, resourceConfig));
        var lines = yaml.Split('\n');

        Assert.DoesNotContain("\\u00", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("item_", yaml, StringComparison.Ordinal);
        foreach (var line in new[]
        {
            $"resource: {resource}", "job: train:v3", "- python", "- train.py", "config:", "  note: a <b> \"c\"", "  lr: 0.5", "resource_config:", "environment:",
            "  QUEUE_VAR: from <queue>", "  PROMPT: |-", "    line one", "    line two", "  HF_TOKEN: ${secret:HF_TOKEN}", "  THREADS: \"3\"", "  DEBUG: \"true\"", "  GREETING: grüße",
            "  LIFTOFF_RUN_ID: <run id, chosen at claim>", "  LIFTOFF_API_KEY: <run-scoped key, minted at claim>", "  LIFTOFF_BASE_URL: <server URL as the agent reaches it>",
            "  WANDB_BASE_URL: <server URL as the agent reaches it>", "  PYTHONUNBUFFERED: \"1\"",
        })
        {
            Assert.Contains(line, lines);
        }
    }

    [Fact]
    public void RenderDryRun_TheRunsOwnVariablesWinAClashWithTheConfigs()
    {
        var yaml = TargetRegistry.Find(Resources.LocalProcess)!.RenderDryRun(Spec(Resources.LocalProcess, """{"env": {"LIFTOFF_RUN_ID": "mine", "PYTHONPATH": "/opt/lib"}}"""));

        Assert.Contains("  LIFTOFF_RUN_ID: <run id, chosen at claim>", yaml.Split('\n'));
        Assert.Contains("  PYTHONPATH: <the Liftoff SDK>[:env.PYTHONPATH]", yaml.Split('\n'));
        Assert.DoesNotContain("  LIFTOFF_RUN_ID: mine", yaml.Split('\n'));
    }

    [Fact]
    public void RenderDryRun_OnKubernetes_PrintsTheJobWithMultiLineValuesAsLiteralBlocks()
    {
        var yaml = TargetRegistry.Find(Resources.Kubernetes)!.RenderDryRun(Spec(Resources.Kubernetes,
            """{"spec": {"template": {"spec": {"containers": [{"env": [{"name": "PROMPT", "value": "line one\nline two <b>"}]}]}}}}"""));
        var lines = yaml.Split('\n').Select(l => l.Trim()).ToList();

        Assert.DoesNotContain("\\u00", yaml, StringComparison.Ordinal);
        Assert.Contains("kind: Job", lines);
        Assert.Contains("- name: PROMPT", lines);
        Assert.Contains("value: |-", lines);
        Assert.Contains("line two <b>", lines);
        Assert.Contains("- name: LIFTOFF_RUN_ID", lines);
        Assert.Contains("kind: Secret", lines);
    }

    private static LaunchSpec Spec(string resource, string resourceConfig) =>
        new("<item id, given at enqueue>", 1, "gpu", resource, "alice", "mnist", "<run id, chosen at claim>", "<run name, chosen at claim>", "train:v3",
            JsonDocument.Parse("""{"source_type": "image", "source": {"image": "registry.example/train:3"}}""").RootElement, ["python", "train.py"],
            JsonDocument.Parse("""{"lr": 0.5, "note": "a <b> \"c\""}""").RootElement, JsonDocument.Parse(resourceConfig).RootElement,
            new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["LIFTOFF_API_KEY"] = "<run-scoped key, minted at claim>",
                ["LIFTOFF_RUN_ID"] = "<run id, chosen at claim>",
                ["LIFTOFF_CONFIG"] = """{"lr":0.5,"note":"a <b> \"c\""}""",
                ["LIFTOFF_ITEM_ID"] = "<item id, given at enqueue>",
            });
}
