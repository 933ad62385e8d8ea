using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core.Launch;

namespace Liftoff.Targets.Kubernetes;

/// <summary>Where and how a launch's Job is made: chosen by the agent (its config, the image its builder made).</summary>
public sealed record KubernetesJobTarget(
    string Name,
    string Namespace,
    string Image,
    string SecretName,
    string Agent,
    IReadOnlyList<string> ImagePullSecrets,
    int TtlSecondsAfterFinished,
    IReadOnlyDictionary<string, string> AgentEnvironment);

/// <summary>
/// The batch/v1 Job a <c>kubernetes</c> launch runs as: a default Job (the image, the entrypoint, the run's environment,
/// labels naming the item, attempt, run, queue, resource and agent, backoffLimit 0, ttlSecondsAfterFinished) with the
/// effective resource config merged over it. The run-scoped key sits in a Secret the container reads through
/// <c>secretKeyRef</c>, never in the Job, and so does every container variable whose value references the entity's
/// secrets (<c>${secret:NAME}</c>). The server (enqueue checks, dry-run) and the agent build it the same way.
/// </summary>
public static class KubernetesJobs
{
    /// <summary>The container the launch runs in; a resource config's container without a name (or named so) merges into it.</summary>
    public const string MainContainer = "main";

    public const string ItemLabel = "liftoff.dev/item-id";
    public const string AttemptLabel = "liftoff.dev/attempt";
    public const string RunLabel = "liftoff.dev/run-id";
    public const string QueueLabel = "liftoff.dev/queue";
    public const string ResourceLabel = "liftoff.dev/resource";
    public const string AgentLabel = "liftoff.dev/agent";

    /// <summary>Label values are at most 63 characters of [A-Za-z0-9_.-]; the exact values also go in these annotations.</summary>
    public const string QueueAnnotation = "liftoff.dev/queue";
    public const string RunAnnotation = "liftoff.dev/run-id";
    public const string AgentAnnotation = "liftoff.dev/agent";

    /// <summary>The launch variables that carry the run-scoped key: in the Secret, never in the Job.</summary>
    public static readonly IReadOnlyList<string> SecretVariables = ["LIFTOFF_API_KEY", "WANDB_API_KEY"];

    /// <summary>The Job for <paramref name="spec"/> with <paramref name="resource"/> (a batch/v1 Job manifest or fragments of one) merged over the default.</summary>
    public static JsonObject Build(LaunchSpec spec, JsonObject resource, KubernetesJobTarget target)
    {
        var job = Default(spec, target);
        MergeInto(job, (JsonObject)resource.DeepClone(), "");
        Enforce(job, spec, target);
        PodSecurity.Inject(job);
        return job;
    }

    /// <summary>
    /// How <paramref name="job"/> (built for <paramref name="spec"/>) breaks the restricted pod security profile beyond
    /// what the Job of the queue's own config (<see cref="LaunchSpec.QueueResourceConfig"/>, as the server sent it at claim)
    /// does: the agent's own check, for a queue config edited after enqueue and items stored before the check existed.
    /// Without the queue's config (an older server) nothing is granted.
    /// </summary>
    public static IReadOnlyList<PodSecurity.Violation> Ungranted(LaunchSpec spec, JsonObject job, KubernetesJobTarget target)
    {
        var queue = spec.QueueResourceConfig is { ValueKind: JsonValueKind.Object } config ? JsonNode.Parse(config.GetRawText())!.AsObject() : [];
        return PodSecurity.Ungranted(job, Build(spec, queue, target), target.SecretName);
    }

    /// <summary>
    /// The Job and its Secret, as the agent creates them: container variables that reference secrets read their values
    /// from the Secret (<c>valueFrom.secretKeyRef</c>), which holds them resolved from the claim's secrets, or, for a
    /// dry-run (a spec without them), as the references themselves.
    /// </summary>
    public static (JsonObject Job, JsonObject Secret) BuildWithSecret(LaunchSpec spec, JsonObject resource, KubernetesJobTarget target)
    {
        var job = Build(spec, resource, target);
        var secret = Secret(spec, target);
        var data = secret["stringData"]!.AsObject();
        foreach (var list in new[] { "initContainers", "containers" })
        {
            foreach (var container in (job["spec"]?["template"]?["spec"]?[list] as JsonArray ?? []).OfType<JsonObject>())
            {
                foreach (var variable in (container["env"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    if (variable["value"] is JsonValue value && value.TryGetValue<string>(out var text) && SecretReferences.Contains(text))
                    {
                        var name = variable["name"]!.GetValue<string>();
                        var key = SecretKey(container["name"]!.GetValue<string>(), name);
                        data[key] = spec.Secrets is null ? text : SecretValues.Resolve(text, spec, name);
                        variable.Remove("value");
                        variable["valueFrom"] = new JsonObject { ["secretKeyRef"] = new JsonObject { ["name"] = target.SecretName, ["key"] = key } };
                    }
                }
            }
        }

        return (job, secret);
    }

    /// <summary>The Secret holding the run-scoped key, labelled like its Job.</summary>
    public static JsonObject Secret(LaunchSpec spec, KubernetesJobTarget target)
    {
        var data = new JsonObject();
        foreach (var name in SecretVariables.Where(spec.Environment.ContainsKey))
        {
            data[name] = spec.Environment[name];
        }

        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject
            {
                ["name"] = target.SecretName,
                ["namespace"] = target.Namespace,
                ["labels"] = Labels(spec, target),
                ["annotations"] = Annotations(spec, target),
            },
            ["type"] = "Opaque",
            ["stringData"] = data,
        };
    }

    /// <summary>A Kubernetes object name (DNS-1123 label) for this attempt's Job: <c>liftoff-RUN-ATTEMPT</c>.</summary>
    public static string JobName(LaunchSpec spec) => DnsLabel($"liftoff-{spec.RunId}-{spec.Attempt}");

    /// <summary>A Secret data key ([-._a-zA-Z0-9]) for a container's variable; a variable name outside that set is hashed.</summary>
    private static string SecretKey(string container, string variable) =>
        "secret." + container + "." + (variable.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? variable
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(variable)))[..16]);

    /// <summary>A label value: at most 63 characters of [A-Za-z0-9_.-], starting and ending with a letter or digit.</summary>
    public static string LabelValue(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-');
        }

        var text = builder.ToString();
        text = text.Length > 63 ? text[..63] : text;
        return text.Trim('-', '_', '.');
    }

    /// <summary>
    /// What <paramref name="resource"/> would make, checked against the Kubernetes OpenAPI definition of a Job, with
    /// paths named as in the resource config under <paramref name="field"/>.
    /// </summary>
    internal static IReadOnlyList<FieldError> Check(JsonObject resource, string field)
    {
        var errors = new List<FieldError>();
        if (resource["spec"]?["backoffLimit"] is JsonValue backoff && !(backoff.TryGetValue<int>(out var limit) && limit == 0))
        {
            errors.Add(new FieldError($"{field}.spec.backoffLimit", "a launch runs once per attempt (the queue's max attempts retries it): the runner sets backoffLimit 0"));
        }

        if (resource["spec"]?["template"]?["spec"]?["restartPolicy"] is JsonValue restart && restart.GetValueKind() == JsonValueKind.String && restart.GetValue<string>() != "Never")
        {
            errors.Add(new FieldError($"{field}.spec.template.spec.restartPolicy", "a launch's pod runs once: the runner sets restartPolicy Never"));
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        var job = Probe(resource);
        errors.AddRange(OpenApiDefinitions.Kubernetes.Check(OpenApiDefinitions.Job, job, field));
        errors.AddRange(UnnamedContainersAndVariables(job, field));
        return errors;
    }

    /// <summary>
    /// What an item's <paramref name="overrides"/> may not do (DESIGN.md §1): make the pod break the restricted pod security
    /// profile where the queue's own config (<paramref name="queueDefaults"/>, set by its owner) does not break it the same way.
    /// </summary>
    internal static IReadOnlyList<FieldError> CheckOverrides(JsonElement queueDefaults, JsonElement? overrides, string field)
    {
        if (overrides is not { ValueKind: JsonValueKind.Object })
        {
            return [];
        }

        var job = Probe(ResourceConfigs.Merge(queueDefaults, overrides));
        var queueJob = Probe(ResourceConfigs.Merge(queueDefaults, null));
        PodSecurity.Inject(job);
        PodSecurity.Inject(queueJob);
        return [.. PodSecurity.Ungranted(job, queueJob, ProbeSecret).Select(v => new FieldError($"{field}.{v.Path}",
            $"{v.Message} (Pod Security Standards, restricted): a launch may not weaken the pod's security unless the queue's own config sets the same"))];
    }

    /// <summary>The probe's own Secret: not a valid object name, so it can never be a real Secret an item names.</summary>
    private const string ProbeSecret = "(this launch's own Secret)";

    /// <summary>The Job <paramref name="resource"/> makes, as the enqueue checks see it (without the security defaults, which would hide a mistyped securityContext).</summary>
    private static JsonObject Probe(JsonObject resource)
    {
        var probe = new LaunchSpec("item", 1, "queue", Resources.Kubernetes, "entity", "project", "run", "run", "job", default,
            ["entrypoint"], default, default, new Dictionary<string, string>(StringComparer.Ordinal) { ["LIFTOFF_API_KEY"] = "key" });
        var target = new KubernetesJobTarget("job", "default", "image", ProbeSecret, "agent", [], 600, new Dictionary<string, string>(StringComparer.Ordinal));
        var job = Default(probe, target);
        MergeInto(job, (JsonObject)resource.DeepClone(), "");
        return job;
    }

    /// <summary>
    /// The names the merge keys on, which the API server requires but the client's models do not mark as required:
    /// every container's (beyond the main one, which the merge names) and every environment variable's.
    /// </summary>
    private static IEnumerable<FieldError> UnnamedContainersAndVariables(JsonObject job, string field)
    {
        foreach (var list in new[] { "containers", "initContainers" })
        {
            var containers = job["spec"]?["template"]?["spec"]?[list] as JsonArray ?? [];
            for (var i = 0; i < containers.Count; i++)
            {
                var path = $"{field}.spec.template.spec.{list}[{i}]";
                if (containers[i] is not JsonObject container)
                {
                    continue;
                }

                if (container["name"] is null)
                {
                    yield return new FieldError($"{path}.name", "is required");
                }

                var env = container["env"] as JsonArray ?? [];
                for (var j = 0; j < env.Count; j++)
                {
                    if (env[j] is JsonObject variable && variable["name"] is null)
                    {
                        yield return new FieldError($"{path}.env[{j}].name", "is required");
                    }
                }
            }
        }
    }

    private static JsonObject Default(LaunchSpec spec, KubernetesJobTarget target) => new()
    {
        ["apiVersion"] = "batch/v1",
        ["kind"] = "Job",
        ["metadata"] = new JsonObject(),
        ["spec"] = new JsonObject
        {
            ["backoffLimit"] = 0,
            ["ttlSecondsAfterFinished"] = target.TtlSecondsAfterFinished,
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject(),
                ["spec"] = new JsonObject
                {
                    ["restartPolicy"] = "Never",
                    ["containers"] = new JsonArray(new JsonObject { ["name"] = MainContainer }),
                },
            },
        },
    };

    /// <summary>
    /// Objects merge key by key; lists replace, except the pod's containers (merged by name; an unnamed one is the main
    /// container) and a container's env (merged by variable name), so fragments add to the default rather than erase it.
    /// </summary>
    private static void MergeInto(JsonObject target, JsonObject source, string path)
    {
        foreach (var (key, value) in source.ToList())
        {
            source.Remove(key);
            var childPath = path.Length == 0 ? key : $"{path}.{key}";
            if (value is JsonObject sourceObject && target[key] is JsonObject targetObject)
            {
                MergeInto(targetObject, sourceObject, childPath);
            }
            else if (childPath == "spec.template.spec.containers" && value is JsonArray containers && target[key] is JsonArray defaults)
            {
                target[key] = MergeContainers(defaults, containers);
            }
            else
            {
                target[key] = value;
            }
        }
    }

    /// <summary>The resource config's containers in their order (so its indices name the same containers), the main one merged with the default.</summary>
    private static JsonArray MergeContainers(JsonArray defaults, JsonArray containers)
    {
        var main = (JsonObject)defaults[0]!.DeepClone();
        var merged = new JsonArray();
        var mainPlaced = false;
        foreach (var container in containers.ToList())
        {
            containers.Remove(container);
            if (container is JsonObject c && !mainPlaced && (c["name"] is null || c["name"] is JsonValue n && n.GetValueKind() == JsonValueKind.String && n.GetValue<string>() == MainContainer))
            {
                c.Remove("name");
                MergeInto(main, c, "container");
                merged.Add((JsonNode)main);
                mainPlaced = true;
            }
            else
            {
                merged.Add(container);
            }
        }

        if (!mainPlaced)
        {
            merged.Add((JsonNode)main);
        }

        return merged;
    }

    /// <summary>What the runner owns whatever the resource config says: names, labels, the image, the entrypoint, the run's environment.</summary>
    private static void Enforce(JsonObject job, LaunchSpec spec, KubernetesJobTarget target)
    {
        var metadata = Object(job, "metadata");
        metadata["name"] = target.Name;
        metadata["namespace"] = target.Namespace;
        AddAll(Object(metadata, "labels"), Labels(spec, target));
        AddAll(Object(metadata, "annotations"), Annotations(spec, target));

        var jobSpec = Object(job, "spec");
        jobSpec["backoffLimit"] = 0;
        var template = Object(jobSpec, "template");
        AddAll(Object(Object(template, "metadata"), "labels"), Labels(spec, target));
        var pod = Object(template, "spec");
        pod["restartPolicy"] = "Never";
        if (target.ImagePullSecrets.Count > 0)
        {
            var pullSecrets = pod["imagePullSecrets"] as JsonArray ?? [];
            foreach (var name in target.ImagePullSecrets.Where(n => !pullSecrets.Any(s => s?["name"]?.GetValue<string>() == n)))
            {
                pullSecrets.Add((JsonNode)new JsonObject { ["name"] = name });
            }

            pod["imagePullSecrets"] = pullSecrets;
        }

        var main = ((JsonArray)pod["containers"]!).OfType<JsonObject>().First(c => c["name"]?.GetValue<string>() == MainContainer);
        main["image"] = target.Image;
        main["command"] = new JsonArray([.. spec.Entrypoint.Select(a => (JsonNode)JsonValue.Create(a))]);
        main.Remove("args");
        main["env"] = Environment(spec, target, main["env"] as JsonArray);
    }

    /// <summary>The container's own variables, then the launch's (the key by secretKeyRef), then the agent's (the server URL).</summary>
    private static JsonArray Environment(LaunchSpec spec, KubernetesJobTarget target, JsonArray? configured)
    {
        var launch = spec.Environment.Keys.Concat(target.AgentEnvironment.Keys).ToHashSet(StringComparer.Ordinal);
        var env = new JsonArray();
        foreach (var variable in configured?.ToList() ?? [])
        {
            configured!.Remove(variable);
            if (variable?["name"] is not JsonValue name || !launch.Contains(name.ToString()))
            {
                env.Add(variable);
            }
        }

        foreach (var (name, value) in spec.Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            env.Add((JsonNode)(SecretVariables.Contains(name)
                ? new JsonObject { ["name"] = name, ["valueFrom"] = new JsonObject { ["secretKeyRef"] = new JsonObject { ["name"] = target.SecretName, ["key"] = name } } }
                : new JsonObject { ["name"] = name, ["value"] = value }));
        }

        foreach (var (name, value) in target.AgentEnvironment.Where(e => !spec.Environment.ContainsKey(e.Key)).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            env.Add((JsonNode)new JsonObject { ["name"] = name, ["value"] = value });
        }

        return env;
    }

    private static JsonObject Labels(LaunchSpec spec, KubernetesJobTarget target) => new()
    {
        [ItemLabel] = LabelValue(spec.ItemId),
        [AttemptLabel] = spec.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [RunLabel] = LabelValue(spec.RunId),
        [QueueLabel] = LabelValue(spec.Queue),
        [ResourceLabel] = Resources.Kubernetes,
        [AgentLabel] = LabelValue(target.Agent),
    };

    private static JsonObject Annotations(LaunchSpec spec, KubernetesJobTarget target) => new()
    {
        [QueueAnnotation] = spec.Queue,
        [RunAnnotation] = spec.RunId,
        [AgentAnnotation] = target.Agent,
        ["kubectl.kubernetes.io/default-container"] = MainContainer,
    };

    /// <summary>The object at <paramref name="key"/> of <paramref name="parent"/>, made there when missing.</summary>
    internal static JsonObject Object(JsonObject parent, string key)
    {
        if (parent[key] is JsonObject existing)
        {
            return existing;
        }

        var created = new JsonObject();
        parent[key] = created;
        return created;
    }

    private static void AddAll(JsonObject target, JsonObject values)
    {
        foreach (var (key, value) in values.ToList())
        {
            values.Remove(key);
            target[key] = value;
        }
    }

    private static string DnsLabel(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value.ToLowerInvariant())
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        }

        var text = builder.ToString();
        return (text.Length > 63 ? text[..63] : text).Trim('-');
    }
}
