using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets;

/// <summary>
/// One target resource, whole: its name, what its resource config may hold, what a launch item may not set on its own,
/// how <c>launch --dry-run</c> shows a launch, its section of the agent config file, and its runner. Each target is one
/// folder holding its definition; <see cref="TargetRegistry"/> lists them, the server accepts exactly the registered
/// names, and the agent picks a claim's runner by its resource through keyed registration.
/// </summary>
internal abstract class TargetDefinition
{
    /// <summary>The resource name queues are created with, e.g. <c>docker</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Every problem of <paramref name="config"/>, each named by its path under <paramref name="field"/>.</summary>
    /// <param name="complete">
    /// A launch's effective config (queue defaults with the item's overrides merged over them), checked for the members
    /// the target requires; a queue's defaults (false) may leave those to each launch.
    /// </param>
    public abstract IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete);

    /// <summary>What a launch item's own <paramref name="overrides"/> may not set unless the queue's defaults grant it (DESIGN.md §1).</summary>
    public virtual IReadOnlyList<FieldError> ValidateOverrides(JsonElement queueDefaults, JsonElement? overrides, string field) => [];

    /// <summary>
    /// Why this target cannot run a job whose source is <paramref name="sourceType"/> (<see cref="JobSourceTypes"/>) under
    /// the effective resource <paramref name="config"/>, or null when it can: refused at enqueue, naming the job.
    /// </summary>
    public virtual string? RefuseJob(string? sourceType, JsonObject config) => null;

    /// <summary>
    /// Whether the string at <paramref name="path"/> (from the config's root, e.g. <c>.env.HF_TOKEN</c>) is an environment
    /// value of the workload: the only place a <c>${secret:NAME}</c> reference may stand, since only there can the
    /// agent deliver a value the target's safe way. None by default.
    /// </summary>
    public virtual bool IsEnvironmentValue(string path) => false;

    /// <summary>Where this target's config sets environment values, for the refusal of a reference elsewhere.</summary>
    public virtual string EnvironmentValues => "nowhere: this target takes no environment variables of its own";

    /// <summary>
    /// What <c>launch --dry-run</c> prints for <paramref name="spec"/>: YAML of what would run, with every variable the
    /// workload gets (secret references kept, what only the agent knows as placeholders).
    /// </summary>
    public virtual string RenderDryRun(LaunchSpec spec) => Yaml.Write(new JsonObject
    {
        ["queue"] = spec.Queue,
        ["resource"] = spec.Resource,
        ["entity"] = spec.Entity,
        ["project"] = spec.Project,
        ["job"] = spec.Job,
        ["entrypoint"] = new JsonArray([.. spec.Entrypoint.Select(e => (JsonNode)e)]),
        ["config"] = Node(spec.Config),
        ["resource_config"] = Node(spec.ResourceConfig),
        ["environment"] = new JsonObject(Environment(spec).OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => KeyValuePair.Create(v.Key, (JsonNode?)v.Value))),
    });

    /// <summary>The member of the resource config whose variables the workload gets, under the run's own (which win a clash); null when none.</summary>
    protected virtual string? EnvironmentMember => null;

    /// <summary>What the agent sets after the run's variables, values only it knows as placeholders.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> AgentVariables => RemoteEnvironment.Added(RemoteEnvironment.ServerUrlPlaceholder);

    /// <summary>Every variable the workload gets, in the order the runners set them: the resource config's, the run's, the agent's.</summary>
    private Dictionary<string, string> Environment(LaunchSpec spec)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (EnvironmentMember is { } member && spec.ResourceConfig.ValueKind == JsonValueKind.Object
            && spec.ResourceConfig.TryGetProperty(member, out var env) && env.ValueKind == JsonValueKind.Object)
        {
            foreach (var variable in env.EnumerateObject())
            {
                environment[variable.Name] = variable.Value.ValueKind == JsonValueKind.String ? variable.Value.GetString()! : variable.Value.GetRawText();
            }
        }

        foreach (var (name, value) in spec.Environment.Concat(AgentVariables))
        {
            environment[name] = value;
        }

        return environment;
    }

    private static JsonNode? Node(JsonElement element) => element.ValueKind == JsonValueKind.Undefined ? null : JsonNode.Parse(element.GetRawText());

    /// <summary>The target's section of the agent config file (e.g. <c>kubernetes:</c>), or null when it has none.</summary>
    public virtual AgentConfigSection? AgentConfig => null;

    /// <summary>Registers the runner under <see cref="Name"/> (<see cref="TargetRegistry.AddRunner{TRunner}"/>) with the services it needs.</summary>
    public abstract void AddRunner(IServiceCollection services, AgentOptions options);
}

/// <summary>
/// A target's section of the agent's YAML config file: its key, the settings type the section is read into (keys in
/// snake_case, unknown keys refused with their line), and the checks of what was read, each problem naming its key.
/// The agent keeps what was read in <see cref="AgentOptions.Target{T}"/>.
/// </summary>
internal abstract class AgentConfigSection(string key, Type settingsType)
{
    public string Key { get; } = key;

    public Type SettingsType { get; } = settingsType;

    public abstract IEnumerable<string> Validate(object settings);
}

/// <inheritdoc cref="AgentConfigSection"/>
internal sealed class AgentConfigSection<T>(string key, Func<T, IEnumerable<string>> validate) : AgentConfigSection(key, typeof(T))
    where T : class, new()
{
    public override IEnumerable<string> Validate(object settings) => validate((T)settings);
}
