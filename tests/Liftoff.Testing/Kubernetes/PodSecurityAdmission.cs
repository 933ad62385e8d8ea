using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Testing.Kubernetes;

/// <summary>The level a namespace's <c>pod-security.kubernetes.io/enforce</c> label sets.</summary>
public enum PodSecurityLevel
{
    Privileged,
    Baseline,
    Restricted,
}

/// <summary>
/// The API server's Pod Security admission (k8s.io/pod-security-admission) at version <c>latest</c>, written from the
/// published Pod Security Standards table and independent of the runner's own check: the checks of a level, each
/// reported as the admission reports it, e.g. <c>privileged (container "x" must not set securityContext.privileged=true)</c>.
/// </summary>
public static class PodSecurityAdmission
{
    private static readonly string[] BaselineCapabilities =
        ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"];

    private static readonly string[] SafeSysctls =
    [
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    ];

    private static readonly string[] RestrictedVolumeTypes = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

    private static readonly string[] SeLinuxTypes = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

    /// <summary>The forbidden reasons of a pod (<paramref name="metadata"/>, <paramref name="spec"/>) at <paramref name="level"/>; none when it is admitted.</summary>
    public static IReadOnlyList<string> Evaluate(PodSecurityLevel level, JsonObject? metadata, JsonObject spec)
    {
        var reasons = new List<string>();
        if (level == PodSecurityLevel.Privileged)
        {
            return reasons;
        }

        var containers = new[] { "initContainers", "containers", "ephemeralContainers" }.SelectMany(l => (spec[l] as JsonArray ?? []).OfType<JsonObject>()).ToList();
        string Name(JsonObject c) => c["name"]?.GetValue<string>() ?? "";
        JsonNode? Get(JsonNode? node, params string[] path) => path.Aggregate(node, (n, k) => n?[k]);
        var pod = spec["securityContext"] as JsonObject;

        void Add(string check, IEnumerable<string> details)
        {
            var list = details.ToList();
            if (list.Count > 0)
            {
                reasons.Add($"{check} ({string.Join("; ", list)})");
            }
        }

        // baseline
        Add("host namespaces", new[] { "hostNetwork", "hostPID", "hostIPC" }.Where(f => True(spec[f])).Select(f => $"{f}=true"));
        Add("privileged", containers.Where(c => True(Get(c, "securityContext", "privileged"))).Select(c => $"container \"{Name(c)}\" must not set securityContext.privileged=true"));
        // restricted's own capabilities, seccompProfile and volume type checks replace baseline's (OverrideCheckIDs)
        var baselineOnly = level == PodSecurityLevel.Baseline;
        Add("non-default capabilities", !baselineOnly ? [] : containers.SelectMany(c => Strings(Get(c, "securityContext", "capabilities", "add")).Where(a => !BaselineCapabilities.Contains(a))
            .Select(a => $"container \"{Name(c)}\" must not include \"{a}\" in securityContext.capabilities.add")));
        var volumes = (spec["volumes"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        Add("hostPath volumes", !baselineOnly ? [] : volumes.Where(v => v["hostPath"] is not null).Select(v => $"volume \"{v["name"]}\""));
        Add("hostPort", containers.SelectMany(c => (c["ports"] as JsonArray ?? []).Select(p => p?["hostPort"]).OfType<JsonValue>()
            .Where(p => p.GetValue<long>() != 0).Select(p => $"container \"{Name(c)}\" uses hostPort {p}")));
        Add("forbidden AppArmor profile", (metadata?["annotations"] as JsonObject ?? [])
            .Where(a => a.Key.StartsWith("container.apparmor.security.beta.kubernetes.io/", StringComparison.Ordinal) && Text(a.Value) is { } v && v.Length > 0 && v != "runtime/default" && !v.StartsWith("localhost/", StringComparison.Ordinal))
            .Select(a => $"annotation \"{a.Key}\"=\"{Text(a.Value)}\"")
            .Concat(Contexts(pod, containers).Where(x => Text(Get(x.Context, "appArmorProfile", "type")) is { } t && t is not ("RuntimeDefault" or "Localhost"))
                .Select(x => $"{x.Owner} must not set securityContext.appArmorProfile.type to \"{Text(Get(x.Context, "appArmorProfile", "type"))}\"")));
        Add("seLinuxOptions", Contexts(pod, containers).Where(x => x.Context?["seLinuxOptions"] is JsonObject o
                && (!SeLinuxTypes.Contains(Text(o["type"]) ?? "") || (Text(o["user"]) ?? "").Length > 0 || (Text(o["role"]) ?? "").Length > 0))
            .Select(x => $"{x.Owner} set forbidden securityContext.seLinuxOptions: {x.Context!["seLinuxOptions"]!.ToJsonString()}"));
        Add("procMount", containers.Where(c => Text(Get(c, "securityContext", "procMount")) is { } m && m != "Default")
            .Select(c => $"container \"{Name(c)}\" must not set securityContext.procMount to \"{Text(Get(c, "securityContext", "procMount"))}\""));
        Add("seccompProfile", !baselineOnly ? [] : Contexts(pod, containers).Where(x => Text(Get(x.Context, "seccompProfile", "type")) == "Unconfined")
            .Select(x => $"{x.Owner} must not set securityContext.seccompProfile.type to \"Unconfined\""));
        Add("forbidden sysctls", (pod?["sysctls"] as JsonArray ?? []).Select(s => Text(s?["name"]) ?? "").Where(n => !SafeSysctls.Contains(n)));
        Add("hostProcess", Contexts(pod, containers).Where(x => True(Get(x.Context, "windowsOptions", "hostProcess")))
            .Select(x => $"{x.Owner} must not set securityContext.windowsOptions.hostProcess=true"));
        if (level == PodSecurityLevel.Baseline)
        {
            return reasons;
        }

        // restricted
        Add("restricted volume types", volumes.SelectMany(v => v.Where(p => p.Key != "name" && p.Value is not null && !RestrictedVolumeTypes.Contains(p.Key))
            .Select(p => $"volume \"{v["name"]}\" uses restricted volume type \"{p.Key}\"")));
        Add("allowPrivilegeEscalation != false", containers.Where(c => !False(Get(c, "securityContext", "allowPrivilegeEscalation")))
            .Select(c => $"container \"{Name(c)}\" must set securityContext.allowPrivilegeEscalation=false"));
        var podNonRoot = True(pod?["runAsNonRoot"]);
        Add("runAsNonRoot != true", (False(pod?["runAsNonRoot"]) ? ["pod must not set securityContext.runAsNonRoot=false"] : Array.Empty<string>())
            .Concat(containers.Where(c => False(Get(c, "securityContext", "runAsNonRoot")) || (!podNonRoot && Get(c, "securityContext", "runAsNonRoot") is null))
                .Select(c => $"pod or container \"{Name(c)}\" must set securityContext.runAsNonRoot=true")));
        Add("runAsUser=0", Contexts(pod, containers).Where(x => x.Context?["runAsUser"] is JsonValue u && u.GetValue<long>() == 0).Select(x => $"{x.Owner} must not set runAsUser=0"));
        var podSeccomp = Text(Get(pod, "seccompProfile", "type")) is "RuntimeDefault" or "Localhost";
        Add("seccompProfile", (Text(Get(pod, "seccompProfile", "type")) is { } podType && !podSeccomp ? [$"pod must not set securityContext.seccompProfile.type to \"{podType}\""] : Array.Empty<string>()).Concat(containers.Where(c => Text(Get(c, "securityContext", "seccompProfile", "type")) is not ("RuntimeDefault" or "Localhost") && !(podSeccomp && Get(c, "securityContext", "seccompProfile") is null))
            .Select(c => $"pod or container \"{Name(c)}\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"")));
        Add("unrestricted capabilities", containers.SelectMany(c =>
            (Strings(Get(c, "securityContext", "capabilities", "drop")).Contains("ALL") ? Array.Empty<string>() : [$"container \"{Name(c)}\" must set securityContext.capabilities.drop=[\"ALL\"]"])
            .Concat(Strings(Get(c, "securityContext", "capabilities", "add")).Where(a => a != "NET_BIND_SERVICE")
                .Select(a => $"container \"{Name(c)}\" must not include \"{a}\" in securityContext.capabilities.add"))));
        return reasons;
    }

    private static IEnumerable<(string Owner, JsonObject? Context)> Contexts(JsonObject? pod, List<JsonObject> containers) =>
        new[] { ("pod", pod) }.Concat(containers.Select(c => ($"container \"{c["name"]?.GetValue<string>()}\"", c["securityContext"] as JsonObject)));

    private static bool True(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    private static bool False(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.False;

    private static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static IEnumerable<string> Strings(JsonNode? node) => (node as JsonArray ?? []).Select(Text).OfType<string>();
}
