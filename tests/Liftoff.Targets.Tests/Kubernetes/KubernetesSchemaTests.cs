using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Targets.Kubernetes;
using Xunit;

namespace Liftoff.Targets.Tests.Kubernetes;

public sealed class KubernetesSchemaTests
{
    [Fact]
    public void Validate_FragmentsOfAJob_AreAccepted()
    {
        var config = Parse("""
            {"metadata": {"labels": {"team": "vision"}},
             "spec": {"ttlSecondsAfterFinished": 300, "activeDeadlineSeconds": 3600,
                      "template": {"spec": {"nodeSelector": {"gpu": "a100"},
                                            "containers": [{"resources": {"limits": {"nvidia.com/gpu": "${gpus}", "memory": "8Gi", "cpu": 2}}}],
                                            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]}}}}
            """);

        Assert.Empty(new KubernetesTarget().Validate(config, "resource_args", complete: true));
    }

    [Theory]
    [InlineData("""{"spec": {"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}}}""")]
    [InlineData("""{"spec": {"completionMode": "Indexed", "completions": 4, "backoffLimitPerIndex": 1, "maxFailedIndexes": 2}}""")]
    [InlineData("""{"spec": {"completionMode": "Indexed", "completions": 4, "successPolicy": {"rules": [{"succeededIndexes": "0", "succeededCount": 1}]}}}""")]
    [InlineData("""{"spec": {"managedBy": "kubernetes.io/job-controller"}}""")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]}]}}}}""")]
    [InlineData("""{"spec": {"template": {"spec": {"initContainers": [{"name": "proxy", "image": "envoy:1", "restartPolicy": "Always"}]}}}}""")]
    public void Validate_FieldOfTheCurrentJobApi_IsAccepted(string json)
    {
        Assert.Empty(new KubernetesTarget().Validate(Parse(json), "resource_args", complete: true));
    }

    [Fact]
    public void Definitions_AreThoseOfKubernetes133OrNewer()
    {
        var version = Version.Parse(OpenApiDefinitions.Version.TrimStart('v'));

        Assert.True(version >= new Version(1, 33), $"the Kubernetes definitions are {OpenApiDefinitions.Version}");
    }

    [Fact]
    public void Validate_MisspeltField_NamesItsPath()
    {
        var config = Parse("""{"spec": {"template": {"spec": {"containers": [{"imagePullPolicyy": "Always"}]}}}}""");

        var error = Assert.Single(new KubernetesTarget().Validate(config, "resource_args", complete: true));

        Assert.Equal("resource_args.spec.template.spec.containers[0].imagePullPolicyy", error.Field);
        Assert.Contains("unknown field", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownField_NamesItsPath()
    {
        var config = Parse("""{"spec": {"template": {"spec": {"containers": [{"resourcez": {}}]}}}}""");

        var error = Assert.Single(new KubernetesTarget().Validate(config, "resource_args", complete: true));

        Assert.Equal("resource_args.spec.template.spec.containers[0].resourcez", error.Field);
        Assert.Contains("unknown field", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"spec": {"parallelism": "two"}}""", "resource_args.spec.parallelism", "whole number")]
    [InlineData("""{"spec": {"parallelism": 4294967296}}""", "resource_args.spec.parallelism", "32 bits")]
    [InlineData("""{"kind": "Deployment"}""", "resource_args.kind", "not one of")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{}, {"image": "busybox"}]}}}}""", "resource_args.spec.template.spec.containers[1].name", "required")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"env": [{"value": "1"}]}]}}}}""", "resource_args.spec.template.spec.containers[0].env[0].name", "required")]
    [InlineData("""{"spec": {"template": {"spec": {"tolerations": {"key": "gpu"}}}}}""", "resource_args.spec.template.spec.tolerations", "list")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"memory": true}}}]}}}}""", "resource_args.spec.template.spec.containers[0].resources.limits.memory", "string or number")]
    [InlineData("""{"spec": {"backoffLimit": 3}}""", "resource_args.spec.backoffLimit", "backoffLimit 0")]
    [InlineData("""{"spec": {"backoffLimitPerIndex": "one"}}""", "resource_args.spec.backoffLimitPerIndex", "whole number")]
    [InlineData("""{"spec": {"managedBy": 3}}""", "resource_args.spec.managedBy", "string")]
    [InlineData("""{"spec": {"template": {"spec": {"securityContext": 5}}}}""", "resource_args.spec.template.spec.securityContext", "must be an object")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"securityContext": "restricted"}]}}}}""", "resource_args.spec.template.spec.containers[0].securityContext", "must be an object")]
    [InlineData("""{"spec": {"podFailurePolicy": {"rules": {"action": "FailJob"}}}}""", "resource_args.spec.podFailurePolicy.rules", "list")]
    [InlineData("""{"spec": {"successPolicy": {"rules": [{"succeededCount": true}]}}}""", "resource_args.spec.successPolicy.rules[0].succeededCount", "whole number")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"resizePolicy": [{"resourceNam": "cpu"}]}]}}}}""", "resource_args.spec.template.spec.containers[0].resizePolicy[0].resourceNam", "unknown field")]
    [InlineData("""{"spec": {"template": {"spec": {"initContainers": [{"image": "envoy:1", "restartPolicy": "Always"}]}}}}""", "resource_args.spec.template.spec.initContainers[0].name", "required")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"ports": [{"name": "http"}]}]}}}}""", "resource_args.spec.template.spec.containers[0].ports[0].containerPort", "required")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": 8080, "hostPort": "80"}]}]}}}}""", "resource_args.spec.template.spec.containers[0].ports[0].hostPort", "whole number")]
    [InlineData("""{"spec": {"template": {"spec": {"containers": [{"livenessProbe": {"tcpSocket": {"port": 1.5}}}]}}}}""", "resource_args.spec.template.spec.containers[0].livenessProbe.tcpSocket.port", "string or integer")]
    public void Validate_InvalidJob_IsRefusedWithThePath(string json, string field, string message)
    {
        var errors = new KubernetesTarget().Validate(Parse(json), "resource_args", complete: true);

        var error = Assert.Single(errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_MergesTheConfigAndKeepsTheKeyInTheSecret()
    {
        var spec = new LaunchSpec("item_abc", 2, "gpu", Resources.Kubernetes, "alice", "mnist", "r1a2b3c4", "brave-otter-1", "train:latest", default,
            ["python", "train.py"], default, default,
            new Dictionary<string, string>(StringComparer.Ordinal) { ["LIFTOFF_API_KEY"] = "run-key-secret", ["WANDB_API_KEY"] = "run-key-secret", ["LIFTOFF_RUN_ID"] = "r1a2b3c4" });
        var target = new KubernetesJobTarget("liftoff-r1a2b3c4-2", "ml", "registry.example/train:abc", "liftoff-r1a2b3c4-2", "agent one", ["regcred"], 600,
            new Dictionary<string, string>(StringComparer.Ordinal) { ["LIFTOFF_BASE_URL"] = "http://liftoff:8080" });
        var config = Parse("""{"spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"memory": "1Gi"}}, "env": [{"name": "MODE", "value": "fast"}, {"name": "LIFTOFF_API_KEY", "value": "x"}]}]}}}}""");

        var job = KubernetesJobs.Build(spec, config, target);

        Assert.DoesNotContain("run-key-secret", job.ToJsonString(), StringComparison.Ordinal);
        Assert.Empty(OpenApiDefinitions.Kubernetes.Check(OpenApiDefinitions.Job, job, "job"));
        Assert.Equal(0, job["spec"]!["backoffLimit"]!.GetValue<int>());
        Assert.Equal("agent-one", job["metadata"]!["labels"]![KubernetesJobs.AgentLabel]!.GetValue<string>());
        Assert.Equal("regcred", job["spec"]!["template"]!["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        var main = job["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("1Gi", main["resources"]!["limits"]!["memory"]!.GetValue<string>());
        var env = main["env"]!.AsArray().ToDictionary(e => e!["name"]!.GetValue<string>());
        Assert.Equal("fast", env["MODE"]!["value"]!.GetValue<string>());
        Assert.Equal("liftoff-r1a2b3c4-2", env["LIFTOFF_API_KEY"]!["valueFrom"]!["secretKeyRef"]!["name"]!.GetValue<string>());
        Assert.Equal("http://liftoff:8080", env["LIFTOFF_BASE_URL"]!["value"]!.GetValue<string>());
        var secret = KubernetesJobs.Secret(spec, target);
        Assert.Empty(OpenApiDefinitions.Kubernetes.Check(OpenApiDefinitions.Secret, secret, "secret"));
        Assert.Equal("run-key-secret", secret["stringData"]!["LIFTOFF_API_KEY"]!.GetValue<string>());
    }

    [Fact]
    public void DryRun_ShowsSecretReferencesInTheSecret_AndTheJobReadsThemBySecretKeyRef()
    {
        var spec = new LaunchSpec("item_abc", 1, "gpu", Resources.Kubernetes, "alice", "mnist", "r1", "otter", "train:latest", JsonDocument.Parse("{}").RootElement,
            ["python", "train.py"], default, JsonDocument.Parse("""
                {"spec": {"template": {"spec": {"containers": [{"env": [{"name": "HF_TOKEN", "value": "${secret:HF_TOKEN}"}, {"name": "PLAIN", "value": "p"}]},
                  {"name": "sidecar", "image": "busybox", "env": [{"name": "AUTH", "value": "Bearer ${secret:HF_TOKEN}"}]}]}}}}
                """).RootElement,
            new Dictionary<string, string>(StringComparer.Ordinal) { ["LIFTOFF_API_KEY"] = "run-key-secret" });

        var yaml = new KubernetesTarget().RenderDryRun(spec);
        var claimed = KubernetesJobs.BuildWithSecret(spec with { Secrets = new Dictionary<string, string> { ["HF_TOKEN"] = "hf_value" } },
            Parse(spec.ResourceConfig.GetRawText()), new KubernetesJobTarget("j", "ml", "img", "j", "agent", [], 600, new Dictionary<string, string>()));

        Assert.Contains("secret.main.HF_TOKEN: ${secret:HF_TOKEN}", yaml, StringComparison.Ordinal);
        Assert.Contains("secret.sidecar.AUTH: Bearer ${secret:HF_TOKEN}", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("run-key-secret", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("hf_value", claimed.Job.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("Bearer hf_value", claimed.Secret["stringData"]!["secret.sidecar.AUTH"]!.GetValue<string>());
        var main = claimed.Job["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray().ToDictionary(e => e!["name"]!.GetValue<string>());
        Assert.Equal("secret.main.HF_TOKEN", main["HF_TOKEN"]!["valueFrom"]!["secretKeyRef"]!["key"]!.GetValue<string>());
        Assert.Equal("p", main["PLAIN"]!["value"]!.GetValue<string>());
        Assert.Empty(OpenApiDefinitions.Kubernetes.Check(OpenApiDefinitions.Job, claimed.Job, "job"));
        Assert.Empty(OpenApiDefinitions.Kubernetes.Check(OpenApiDefinitions.Secret, claimed.Secret, "secret"));
    }

    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();
}
