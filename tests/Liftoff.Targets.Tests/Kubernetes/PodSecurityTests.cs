using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Targets.Kubernetes;
using Xunit;

namespace Liftoff.Targets.Tests.Kubernetes;

/// <summary>The restricted Pod Security Standards profile: injected into every pod, not weakened by an item, granted field by field by a queue.</summary>
public sealed class PodSecurityTests
{
    /// <summary>Each container field of the profile (and DESIGN.md §1's mount propagation): the fragment, and the path under the container.</summary>
    public static readonly IReadOnlyList<(string Fragment, string Path)> ContainerFields =
    [
        ("""{"securityContext": {"privileged": true}}""", "securityContext.privileged"),
        ("""{"securityContext": {"allowPrivilegeEscalation": true}}""", "securityContext.allowPrivilegeEscalation"),
        ("""{"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}""", "securityContext.capabilities.add"),
        ("""{"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}""", "securityContext.capabilities.drop"),
        ("""{"securityContext": {"runAsNonRoot": false}}""", "securityContext.runAsNonRoot"),
        ("""{"securityContext": {"runAsUser": 0}}""", "securityContext.runAsUser"),
        ("""{"securityContext": {"seccompProfile": {"type": "Unconfined"}}}""", "securityContext.seccompProfile.type"),
        ("""{"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}""", "securityContext.appArmorProfile.type"),
        ("""{"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}""", "securityContext.seLinuxOptions.type"),
        ("""{"securityContext": {"seLinuxOptions": {"user": "system_u"}}}""", "securityContext.seLinuxOptions.user"),
        ("""{"securityContext": {"seLinuxOptions": {"role": "sysadm_r"}}}""", "securityContext.seLinuxOptions.role"),
        ("""{"securityContext": {"procMount": "Unmasked"}}""", "securityContext.procMount"),
        ("""{"securityContext": {"windowsOptions": {"hostProcess": true}}}""", "securityContext.windowsOptions.hostProcess"),
        ("""{"ports": [{"containerPort": 8080, "hostPort": 80}]}""", "ports[0].hostPort"),
        ("""{"volumeMounts": [{"name": "scratch", "mountPath": "/scratch", "mountPropagation": "Bidirectional"}]}""", "volumeMounts[0].mountPropagation"),
        ("""{"env": [{"name": "STOLEN", "valueFrom": {"secretKeyRef": {"name": "liftoff-another-launch", "key": "LIFTOFF_API_KEY"}}}]}""", "env[0].valueFrom.secretKeyRef.name"),
        ("""{"envFrom": [{"secretRef": {"name": "liftoff-another-launch"}}]}""", "envFrom[0].secretRef.name"),
    ];

    /// <summary>Each pod field of the profile (and DESIGN.md §1's service account rules): the pod spec fragment, and its path in the Job.</summary>
    public static readonly TheoryData<string, string> PodFields = new()
    {
        { """{"spec": {"hostNetwork": true}}""", "spec.template.spec.hostNetwork" },
        { """{"spec": {"hostPID": true}}""", "spec.template.spec.hostPID" },
        { """{"spec": {"hostIPC": true}}""", "spec.template.spec.hostIPC" },
        { """{"spec": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}}""", "spec.template.spec.volumes[0].hostPath" },
        { """{"spec": {"volumes": [{"name": "share", "nfs": {"server": "nfs.local", "path": "/"}}]}}""", "spec.template.spec.volumes[0].nfs" },
        { """{"spec": {"volumes": [{"name": "stolen", "secret": {"secretName": "liftoff-another-launch"}}]}}""", "spec.template.spec.volumes[0].secret.secretName" },
        { """{"spec": {"volumes": [{"name": "stolen", "projected": {"sources": [{"secret": {"name": "liftoff-another-launch"}}]}}]}}""", "spec.template.spec.volumes[0].projected.sources[0].secret.name" },
        { """{"spec": {"securityContext": {"runAsNonRoot": false}}}""", "spec.template.spec.securityContext.runAsNonRoot" },
        { """{"spec": {"securityContext": {"runAsUser": 0}}}""", "spec.template.spec.securityContext.runAsUser" },
        { """{"spec": {"securityContext": {"seccompProfile": {"type": "Unconfined"}}}}""", "spec.template.spec.securityContext.seccompProfile.type" },
        { """{"spec": {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}}""", "spec.template.spec.securityContext.appArmorProfile.type" },
        { """{"spec": {"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}}""", "spec.template.spec.securityContext.seLinuxOptions.type" },
        { """{"spec": {"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}}}""", "spec.template.spec.securityContext.sysctls" },
        { """{"spec": {"securityContext": {"windowsOptions": {"hostProcess": true}}}}""", "spec.template.spec.securityContext.windowsOptions.hostProcess" },
        { """{"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/main": "unconfined"}}}""", "spec.template.metadata.annotations.container.apparmor.security.beta.kubernetes.io/main" },
        { """{"spec": {"serviceAccountName": "cluster-admin"}}""", "spec.template.spec.serviceAccountName" },
        { """{"spec": {"serviceAccount": "cluster-admin"}}""", "spec.template.spec.serviceAccount" },
        { """{"spec": {"automountServiceAccountToken": true}}""", "spec.template.spec.automountServiceAccountToken" },
    };

    public static TheoryData<string, string, string> ContainerCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var placement in new[] { "main", "extra", "init" })
        {
            foreach (var (fragment, path) in ContainerFields)
            {
                data.Add(placement, fragment, path);
            }
        }

        return data;
    }

    [Fact]
    public void Build_InjectsTheRestrictedContextIntoThePodAndEveryContainer()
    {
        var config = Parse("""
            {"spec": {"template": {"spec": {
              "initContainers": [{"name": "setup", "image": "busybox"}],
              "containers": [{"resources": {"limits": {"memory": "1Gi"}}}, {"name": "shipper", "image": "fluent-bit:3"}]}}}}
            """);

        var job = KubernetesJobs.Build(Spec(default), config, Target());

        var pod = job["spec"]!["template"]!["spec"]!;
        Assert.True(pod["securityContext"]!["runAsNonRoot"]!.GetValue<bool>());
        Assert.Equal("RuntimeDefault", pod["securityContext"]!["seccompProfile"]!["type"]!.GetValue<string>());
        Assert.False(pod["automountServiceAccountToken"]!.GetValue<bool>());
        var containers = pod["containers"]!.AsArray().Concat(pod["initContainers"]!.AsArray()).ToList();
        Assert.Equal(3, containers.Count);
        foreach (var container in containers)
        {
            Assert.False(container!["securityContext"]!["allowPrivilegeEscalation"]!.GetValue<bool>());
            Assert.Equal(["ALL"], container["securityContext"]!["capabilities"]!["drop"]!.AsArray().Select(d => d!.GetValue<string>()));
        }

        Assert.Empty(PodSecurity.Check(job, Target().SecretName));
        Assert.Empty(OpenApiDefinitions.Kubernetes.Check(OpenApiDefinitions.Job, job, "job"));
    }

    [Fact]
    public void Build_KeepsWhatTheConfigSetsThatDoesNotWeakenIt()
    {
        var config = Parse("""{"spec": {"template": {"spec": {"securityContext": {"runAsUser": 1000, "seccompProfile": {"type": "Localhost", "localhostProfile": "ml.json"}}, "containers": [{"securityContext": {"readOnlyRootFilesystem": true, "capabilities": {"add": ["NET_BIND_SERVICE"]}}}]}}}}""");

        var job = KubernetesJobs.Build(Spec(default), config, Target());

        Assert.Empty(new KubernetesTarget().ValidateOverrides(default, Element(config), "resource_args"));
        Assert.Empty(PodSecurity.Check(job, Target().SecretName));
        var pod = job["spec"]!["template"]!["spec"]!;
        Assert.Equal("Localhost", pod["securityContext"]!["seccompProfile"]!["type"]!.GetValue<string>());
        Assert.Equal(1000, pod["securityContext"]!["runAsUser"]!.GetValue<int>());
        Assert.True(pod["containers"]![0]!["securityContext"]!["readOnlyRootFilesystem"]!.GetValue<bool>());
    }

    [Theory]
    [MemberData(nameof(ContainerCases))]
    public void ValidateOverrides_ItemWeakeningAContainer_IsRefusedWithThePath(string placement, string fragment, string path)
    {
        var (item, containerPath) = InContainer(placement, fragment);

        var errors = new KubernetesTarget().ValidateOverrides(Element(Parse("{}")), Element(item), "resource_args");

        Assert.Empty(new KubernetesTarget().Validate(item, "resource_args", complete: true));
        var error = Assert.Single(errors);
        Assert.Equal($"resource_args.{containerPath}.{path}", error.Field);
        Assert.Contains("restricted", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(PodFields))]
    public void ValidateOverrides_ItemWeakeningThePod_IsRefusedWithThePath(string fragment, string path)
    {
        var item = PodFragment(fragment);

        var errors = new KubernetesTarget().ValidateOverrides(Element(Parse("{}")), Element(item), "resource_args");

        Assert.Empty(new KubernetesTarget().Validate(item, "resource_args", complete: true));
        var error = Assert.Single(errors);
        Assert.Equal($"resource_args.{path}", error.Field);
    }

    [Theory]
    [MemberData(nameof(ContainerCases))]
    public void QueueGrantingAContainerField_LetsItThroughToTheJob(string placement, string fragment, string path)
    {
        var (config, containerPath) = InContainer(placement, fragment);
        var spec = Spec(Element(config));

        var job = KubernetesJobs.Build(spec, config, Target());

        Assert.Empty(new KubernetesTarget().ValidateOverrides(Element(config), Element(config), "resource_args"));
        Assert.Empty(KubernetesJobs.Ungranted(spec, job, Target()));
        var violation = Assert.Single(PodSecurity.Check(job, Target().SecretName));
        Assert.Equal($"{containerPath}.{path}", violation.Path);
    }

    [Theory]
    [MemberData(nameof(PodFields))]
    public void QueueGrantingAPodField_LetsItThroughToTheJob(string fragment, string path)
    {
        var config = PodFragment(fragment);
        var spec = Spec(Element(config));

        var job = KubernetesJobs.Build(spec, config, Target());

        Assert.Empty(new KubernetesTarget().ValidateOverrides(Element(config), Element(config), "resource_args"));
        Assert.Empty(KubernetesJobs.Ungranted(spec, job, Target()));
        Assert.Equal(path, Assert.Single(PodSecurity.Check(job, Target().SecretName)).Path);
    }

    [Fact]
    public void QueueGrant_IsForItsValueAndContainerOnly()
    {
        var queue = Parse("""{"spec": {"template": {"spec": {"containers": [{"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}]}}}}""");
        var otherCapability = Parse("""{"spec": {"template": {"spec": {"containers": [{"securityContext": {"capabilities": {"add": ["SYS_PTRACE", "SYS_ADMIN"]}}}]}}}}""");
        var otherContainer = Parse("""{"spec": {"template": {"spec": {"containers": [{"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}, {"name": "debug", "image": "busybox", "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}]}}}}""");

        var capabilityErrors = new KubernetesTarget().ValidateOverrides(Element(queue), Element(otherCapability), "resource_args");
        var containerErrors = new KubernetesTarget().ValidateOverrides(Element(queue), Element(otherContainer), "resource_args");

        var capability = Assert.Single(capabilityErrors);
        Assert.Equal("resource_args.spec.template.spec.containers[0].securityContext.capabilities.add", capability.Field);
        Assert.Contains("SYS_ADMIN", capability.Message, StringComparison.Ordinal);
        Assert.Equal("resource_args.spec.template.spec.containers[1].securityContext.capabilities.add", Assert.Single(containerErrors).Field);
    }

    [Fact]
    public void Ungranted_AnItemTheQueueNoLongerGrants_IsFoundByTheAgent()
    {
        var item = Parse("""{"spec": {"template": {"spec": {"hostNetwork": true, "containers": [{"securityContext": {"privileged": true}}]}}}}""");
        var edited = Spec(Element(Parse("""{"spec": {"template": {"spec": {"hostNetwork": true}}}}""")));
        var olderServer = Spec(default);

        var job = KubernetesJobs.Build(edited, item, Target());

        Assert.Equal(["spec.template.spec.containers[0].securityContext.privileged"], KubernetesJobs.Ungranted(edited, job, Target()).Select(v => v.Path));
        Assert.Equal(2, KubernetesJobs.Ungranted(olderServer, job, Target()).Count);
    }

    private static (JsonObject Config, string ContainerPath) InContainer(string placement, string fragment)
    {
        var container = Parse(fragment);
        var pod = placement switch
        {
            "main" => new JsonObject { ["containers"] = new JsonArray(container) },
            "extra" => new JsonObject { ["containers"] = new JsonArray(new JsonObject(), Named(container, "shipper")) },
            _ => new JsonObject { ["initContainers"] = new JsonArray(Named(container, "setup")) },
        };
        pod["volumes"] = new JsonArray(new JsonObject { ["name"] = "scratch", ["emptyDir"] = new JsonObject() });
        var path = placement switch { "main" => "spec.template.spec.containers[0]", "extra" => "spec.template.spec.containers[1]", _ => "spec.template.spec.initContainers[0]" };
        return (new JsonObject { ["spec"] = new JsonObject { ["template"] = new JsonObject { ["spec"] = pod } } }, path);
    }

    private static JsonObject Named(JsonObject container, string name)
    {
        container["name"] = name;
        container["image"] = "busybox";
        return container;
    }

    private static JsonObject PodFragment(string fragment) => new() { ["spec"] = new JsonObject { ["template"] = Parse(fragment) } };

    private static LaunchSpec Spec(JsonElement queueConfig) => new("item_abc", 1, "gpu", Resources.Kubernetes, "alice", "mnist", "r1", "run-1", "train:latest", default,
        ["python", "train.py"], default, default, new Dictionary<string, string>(StringComparer.Ordinal) { ["LIFTOFF_API_KEY"] = "key" }, queueConfig);

    private static KubernetesJobTarget Target() =>
        new("liftoff-r1-1", "ml", "registry.example/train:1", "liftoff-r1-1", "agent", [], 600, new Dictionary<string, string>(StringComparer.Ordinal));

    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    private static JsonElement Element(JsonObject node) => JsonSerializer.SerializeToElement(node, LiftoffJsonContext.Default.JsonNode);
}
