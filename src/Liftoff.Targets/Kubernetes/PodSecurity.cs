using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Targets.Kubernetes;

/// <summary>
/// The Kubernetes Pod Security Standards <b>restricted</b> profile (which includes <b>baseline</b>), as published for
/// Kubernetes 1.3x, for the pod of a launch's Job, plus what DESIGN.md §1 adds for a pod running untrusted code: no
/// service account of its choosing, no API token mounted, no bidirectional mount propagation. <see cref="Inject"/> fills
/// in the restricted security context the config leaves unset; <see cref="Check"/> lists every field that still breaks
/// the profile. A launch item may not add a violation; the queue's own config may, field by field
/// (<see cref="Ungranted"/>): a queue whose config sets a field to a non-compliant value grants that value there.
/// </summary>
public static class PodSecurity
{
    /// <summary>The pod's volume types the restricted profile allows (hostPath and every other type are refused).</summary>
    public static readonly IReadOnlyList<string> AllowedVolumeTypes = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

    /// <summary>The sysctls the baseline profile calls safe (namespaced, no effect on other pods).</summary>
    public static readonly IReadOnlyList<string> AllowedSysctls =
    [
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    ];

    /// <summary>The SELinux types the baseline profile allows; a custom user or role is refused.</summary>
    public static readonly IReadOnlyList<string> AllowedSeLinuxTypes = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

    public const string AppArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/";

    private const string Pod = "spec.template.spec";
    private static readonly string[] ContainerLists = ["containers", "initContainers", "ephemeralContainers"];

    /// <summary>
    /// One field of the pod that breaks the profile. <see cref="Path"/> names it in the Job (as the resource config does);
    /// <see cref="Grant"/> names it by container and volume names, with its value: the same violation in the Job the
    /// queue's own config makes is the grant.
    /// </summary>
    public sealed record Violation(string Path, string Grant, string Message);

    /// <summary>
    /// What the runner sets where the config leaves it unset: the pod runs as non-root with the RuntimeDefault seccomp
    /// profile and no service account token; every container drops all capabilities and may not escalate privileges
    /// (except a container the config makes privileged or gives CAP_SYS_ADMIN, which the API server requires to allow it).
    /// </summary>
    public static void Inject(JsonObject job)
    {
        var pod = KubernetesJobs.Object(KubernetesJobs.Object(KubernetesJobs.Object(job, "spec"), "template"), "spec");
        pod["automountServiceAccountToken"] ??= false;
        var context = KubernetesJobs.Object(pod, "securityContext");
        context["runAsNonRoot"] ??= true;
        context["seccompProfile"] ??= new JsonObject { ["type"] = "RuntimeDefault" };
        foreach (var list in ContainerLists)
        {
            foreach (var container in (pod[list] as JsonArray ?? []).OfType<JsonObject>())
            {
                var security = KubernetesJobs.Object(container, "securityContext");
                if (security["allowPrivilegeEscalation"] is null && !ImpliesEscalation(security))
                {
                    security["allowPrivilegeEscalation"] = false;
                }

                KubernetesJobs.Object(security, "capabilities")["drop"] ??= new JsonArray("ALL");
            }
        }
    }

    /// <summary>
    /// Every field of <paramref name="job"/>'s pod that breaks the profile, and every reference to a Secret other than
    /// <paramref name="ownSecret"/> (the one the runner makes for this launch: its run key and resolved secrets).
    /// </summary>
    public static IReadOnlyList<Violation> Check(JsonObject job, string ownSecret)
    {
        var violations = new List<Violation>();
        var pod = job["spec"]?["template"]?["spec"] as JsonObject ?? [];
        foreach (var field in new[] { "hostNetwork", "hostPID", "hostIPC" })
        {
            if (IsTrue(pod[field]))
            {
                violations.Add(new($"{Pod}.{field}", $"{field}=true", $"{field} shares the node's namespace with the pod: must be unset or false"));
            }
        }

        foreach (var field in new[] { "serviceAccountName", "serviceAccount" })
        {
            if (Text(pod[field]) is { Length: > 0 } account)
            {
                violations.Add(new($"{Pod}.{field}", $"{field}={account}", "a launch's pod runs as the namespace's default service account: its own choice of account is refused"));
            }
        }

        if (!IsFalse(pod["automountServiceAccountToken"]))
        {
            violations.Add(new($"{Pod}.automountServiceAccountToken", $"automountServiceAccountToken={Json(pod["automountServiceAccountToken"])}",
                "a launch's pod gets no Kubernetes API token: must be false"));
        }

        var podContext = pod["securityContext"] as JsonObject;
        SecurityContext(podContext, $"{Pod}.securityContext", "pod", violations);
        if (!IsTrue(podContext?["runAsNonRoot"]) && !IsFalse(podContext?["runAsNonRoot"]))
        {
            violations.Add(new($"{Pod}.securityContext.runAsNonRoot", "pod.runAsNonRoot=unset", "must be true (the restricted profile runs pods as non-root)"));
        }

        if (podContext?["seccompProfile"] is null)
        {
            violations.Add(new($"{Pod}.securityContext.seccompProfile", "pod.seccompProfile=unset", "must be RuntimeDefault or Localhost"));
        }

        foreach (var sysctl in (podContext?["sysctls"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (Text(sysctl["name"]) is { } name && !AllowedSysctls.Contains(name))
            {
                violations.Add(new($"{Pod}.securityContext.sysctls", $"pod.sysctls={name}", $"sysctl {name} is not one of the safe sysctls: {string.Join(", ", AllowedSysctls)}"));
            }
        }

        var volumes = pod["volumes"] as JsonArray ?? [];
        for (var i = 0; i < volumes.Count; i++)
        {
            if (volumes[i] is not JsonObject volume)
            {
                continue;
            }

            SecretVolume(volume, $"{Pod}.volumes[{i}]", ownSecret, violations);
            foreach (var (type, source) in volume.Where(p => p.Key != "name" && p.Value is not null && !AllowedVolumeTypes.Contains(p.Key)))
            {
                var why = type == "hostPath" ? "a hostPath volume exposes the node's files" : $"volume type {type} is not allowed";
                violations.Add(new($"{Pod}.volumes[{i}].{type}", $"volumes[{Text(volume["name"])}].{type}={Json(source)}",
                    $"{why}: the restricted profile allows {string.Join(", ", AllowedVolumeTypes)}"));
            }
        }

        foreach (var (key, value) in job["spec"]?["template"]?["metadata"]?["annotations"] as JsonObject ?? [])
        {
            if (key.StartsWith(AppArmorAnnotationPrefix, StringComparison.Ordinal) && Text(value) is { } profile && profile is not ("" or "runtime/default") && !profile.StartsWith("localhost/", StringComparison.Ordinal))
            {
                violations.Add(new($"spec.template.metadata.annotations.{key}", $"annotations[{key}]={profile}", "the AppArmor profile must be runtime/default or localhost/NAME"));
            }
        }

        foreach (var list in ContainerLists)
        {
            var containers = pod[list] as JsonArray ?? [];
            for (var i = 0; i < containers.Count; i++)
            {
                if (containers[i] is JsonObject container)
                {
                    Container(container, $"{Pod}.{list}[{i}]", $"{list}[{Text(container["name"])}]", podContext, violations);
                    SecretVariables(container, $"{Pod}.{list}[{i}]", $"{list}[{Text(container["name"])}]", ownSecret, violations);
                }
            }
        }

        return violations;
    }

    /// <summary>The violations of <paramref name="job"/> that <paramref name="queueJob"/> (the Job of the queue's own config alone) does not have: what the item added.</summary>
    public static IReadOnlyList<Violation> Ungranted(JsonObject job, JsonObject queueJob, string ownSecret)
    {
        var granted = Check(queueJob, ownSecret).Select(v => v.Grant).ToHashSet(StringComparer.Ordinal);
        return [.. Check(job, ownSecret).Where(v => !granted.Contains(v.Grant))];
    }

    /// <summary>
    /// A launch's code reads only its own Secret. Every launch on the namespace has one holding its run key and its
    /// resolved secrets, and the profile lets a pod mount any Secret of its namespace: an item naming another
    /// launch's Secret would run with that launch's key and secrets. A Secret the queue's own config names is granted.
    /// </summary>
    private static void SecretVolume(JsonObject volume, string path, string ownSecret, List<Violation> violations)
    {
        var name = Text(volume["name"]);
        if (Text(volume["secret"]?["secretName"]) is { } secret && secret != ownSecret)
        {
            violations.Add(new($"{path}.secret.secretName", $"volumes[{name}].secret={secret}", ForeignSecret(secret)));
        }

        var sources = volume["projected"]?["sources"] as JsonArray ?? [];
        for (var i = 0; i < sources.Count; i++)
        {
            if (Text(sources[i]?["secret"]?["name"]) is { } projected && projected != ownSecret)
            {
                violations.Add(new($"{path}.projected.sources[{i}].secret.name", $"volumes[{name}].projected.secret={projected}", ForeignSecret(projected)));
            }
        }
    }

    private static void SecretVariables(JsonObject container, string path, string key, string ownSecret, List<Violation> violations)
    {
        var env = container["env"] as JsonArray ?? [];
        for (var i = 0; i < env.Count; i++)
        {
            if (Text(env[i]?["valueFrom"]?["secretKeyRef"]?["name"]) is { } secret && secret != ownSecret)
            {
                violations.Add(new($"{path}.env[{i}].valueFrom.secretKeyRef.name", $"{key}.secretKeyRef={secret}", ForeignSecret(secret)));
            }
        }

        var envFrom = container["envFrom"] as JsonArray ?? [];
        for (var i = 0; i < envFrom.Count; i++)
        {
            if (Text(envFrom[i]?["secretRef"]?["name"]) is { } secret && secret != ownSecret)
            {
                violations.Add(new($"{path}.envFrom[{i}].secretRef.name", $"{key}.envFrom.secretRef={secret}", ForeignSecret(secret)));
            }
        }
    }

    private static string ForeignSecret(string name) =>
        $"Secret '{name}' is not this launch's own: a launch reads secrets through ${{secret:NAME}} references in its env (liftoff secret set NAME)";

    private static void Container(JsonObject container, string path, string key, JsonObject? podContext, List<Violation> violations)
    {
        var security = container["securityContext"] as JsonObject;
        SecurityContext(security, $"{path}.securityContext", key, violations);
        if (IsTrue(security?["privileged"]))
        {
            violations.Add(new($"{path}.securityContext.privileged", $"{key}.privileged=true", "a privileged container has the node's devices and capabilities: must be unset or false"));
        }

        if (IsTrue(security?["allowPrivilegeEscalation"]) || (security?["allowPrivilegeEscalation"] is null && !ImpliesEscalation(security)))
        {
            violations.Add(new($"{path}.securityContext.allowPrivilegeEscalation", $"{key}.allowPrivilegeEscalation={Json(security?["allowPrivilegeEscalation"])}", "must be false"));
        }

        foreach (var capability in (security?["capabilities"]?["add"] as JsonArray ?? []).Select(Text).Where(c => c is not null and not "NET_BIND_SERVICE"))
        {
            violations.Add(new($"{path}.securityContext.capabilities.add", $"{key}.capabilities.add={capability}", $"capability {capability} may not be added: only NET_BIND_SERVICE"));
        }

        if (security?["capabilities"]?["drop"] is not JsonArray drop || !drop.Select(Text).Contains("ALL"))
        {
            violations.Add(new($"{path}.securityContext.capabilities.drop", $"{key}.capabilities.drop={Json(security?["capabilities"]?["drop"])}", "must include ALL"));
        }

        if (Text(security?["procMount"]) is { } procMount && procMount != "Default")
        {
            violations.Add(new($"{path}.securityContext.procMount", $"{key}.procMount={procMount}", "must be unset or Default"));
        }

        if (security?["runAsNonRoot"] is null && !IsTrue(podContext?["runAsNonRoot"]) && !IsFalse(podContext?["runAsNonRoot"]))
        {
            violations.Add(new($"{path}.securityContext.runAsNonRoot", $"{key}.runAsNonRoot=unset", "must be true, here or on the pod"));
        }

        if (security?["seccompProfile"] is null && podContext?["seccompProfile"] is null)
        {
            violations.Add(new($"{path}.securityContext.seccompProfile", $"{key}.seccompProfile=unset", "must be RuntimeDefault or Localhost, here or on the pod"));
        }

        var ports = container["ports"] as JsonArray ?? [];
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports[i]?["hostPort"] is JsonValue hostPort && hostPort.TryGetValue<long>(out var port) && port != 0)
            {
                violations.Add(new($"{path}.ports[{i}].hostPort", $"{key}.hostPort={port}", "a hostPort binds the node's port: must be unset or 0"));
            }
        }

        var mounts = container["volumeMounts"] as JsonArray ?? [];
        for (var i = 0; i < mounts.Count; i++)
        {
            if (Text(mounts[i]?["mountPropagation"]) == "Bidirectional")
            {
                violations.Add(new($"{path}.volumeMounts[{i}].mountPropagation", $"{key}.volumeMounts[{Text(mounts[i]?["name"])}].mountPropagation=Bidirectional",
                    "Bidirectional propagation makes the container's mounts the node's: must be None or HostToContainer"));
            }
        }
    }

    /// <summary>The fields a pod's and a container's security context share.</summary>
    private static void SecurityContext(JsonObject? context, string path, string key, List<Violation> violations)
    {
        if (context is null)
        {
            return;
        }

        if (IsFalse(context["runAsNonRoot"]))
        {
            violations.Add(new($"{path}.runAsNonRoot", $"{key}.runAsNonRoot=false", "must be true (the restricted profile runs pods as non-root)"));
        }

        if (context["runAsUser"] is JsonValue user && user.TryGetValue<long>(out var uid) && uid == 0)
        {
            violations.Add(new($"{path}.runAsUser", $"{key}.runAsUser=0", "user 0 is root: must be unset or another user"));
        }

        foreach (var profile in new[] { "seccompProfile", "appArmorProfile" })
        {
            if (context[profile] is { } value && Text(value["type"]) is not ("RuntimeDefault" or "Localhost"))
            {
                violations.Add(new($"{path}.{profile}.type", $"{key}.{profile}={Json(value["type"])}", "must be RuntimeDefault or Localhost"));
            }
        }

        if (context["seLinuxOptions"] is JsonObject seLinux)
        {
            if (Text(seLinux["type"]) is { } type && !AllowedSeLinuxTypes.Contains(type))
            {
                violations.Add(new($"{path}.seLinuxOptions.type", $"{key}.seLinuxOptions.type={type}", $"must be unset or one of {string.Join(", ", AllowedSeLinuxTypes.Skip(1))}"));
            }

            foreach (var field in new[] { "user", "role" })
            {
                if (Text(seLinux[field]) is { Length: > 0 } value)
                {
                    violations.Add(new($"{path}.seLinuxOptions.{field}", $"{key}.seLinuxOptions.{field}={value}", "must be unset"));
                }
            }
        }

        if (IsTrue(context["windowsOptions"]?["hostProcess"]))
        {
            violations.Add(new($"{path}.windowsOptions.hostProcess", $"{key}.hostProcess=true", "a host process runs on the node: must be unset or false"));
        }
    }

    /// <summary>The API server refuses allowPrivilegeEscalation false beside these, so their grant is that one's too.</summary>
    private static bool ImpliesEscalation(JsonObject? security) =>
        IsTrue(security?["privileged"]) || (security?["capabilities"]?["add"] as JsonArray ?? []).Select(Text).Any(c => c is "SYS_ADMIN" or "CAP_SYS_ADMIN");

    private static bool IsTrue(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    private static bool IsFalse(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.False;

    private static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static string Json(JsonNode? node) => node?.ToJsonString() ?? "unset";
}
