using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Liftoff.Contracts;
using Liftoff.Targets.LocalProcess;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets.Slurm;

/// <summary>
/// <c>slurm</c>: each attempt is a batch job submitted with <c>sbatch</c> from the agent's login node. The resource
/// config is <see cref="SlurmResourceConfig"/>, the script <see cref="SlurmBatchScript"/>, the agent config section
/// <c>slurm:</c> (<see cref="SlurmSettings"/>).
/// </summary>
internal sealed partial class SlurmTarget : TargetDefinition
{
    /// <summary>The name, for the keyed services this target registers.</summary>
    public const string Key = "slurm";

    public override string Name => Key;

    public override AgentConfigSection AgentConfig { get; } = new AgentConfigSection<SlurmSettings>("slurm", s => s.Validate());

    public override bool IsEnvironmentValue(string path) => EnvironmentValuePath().IsMatch(path);

    public override string EnvironmentValues => "env.NAME";

    public override IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete) => SlurmResourceConfig.Validate(config, field, complete);

    public override IReadOnlyList<FieldError> ValidateOverrides(JsonElement queueDefaults, JsonElement? overrides, string field) =>
        SlurmResourceConfig.ValidateOverrides(overrides, field);

    /// <summary>An image job runs only through the container runtime the queue's owner names.</summary>
    public override string? RefuseJob(string? sourceType, JsonObject config) =>
        sourceType == JobSourceTypes.Image && !(config["container"] is JsonValue container && container.TryGetValue<string>(out var runtime) && runtime is "apptainer" or "enroot")
            ? "it is an image job, and this slurm queue names no container runtime; its owner sets container: apptainer or enroot in the queue's config"
            : null;

    /// <summary>
    /// The batch script as the agent submits it (<see cref="SlurmBatchScript.Compose"/>, the runner's own composition).
    /// What only the agent knows at claim (its job name, the attempt's folder under its shared working directory, the
    /// virtual environment, the server's URL as compute nodes see it) stands as a marked <c>&lt;placeholder&gt;</c>; the
    /// run key, secrets and the agent's PATH, HOME and locale are in the secrets file the script sources, shown by its path.
    /// </summary>
    public override string RenderDryRun(LaunchSpec spec) =>
        SlurmBatchScript.Compose(SlurmResourceConfig.Parse(spec.ResourceConfig), spec, SlurmAgentValues.Placeholders(spec), new Dictionary<string, string>(), (_, value) => value).Script;

    /// <summary>The runner, with the code, venv and SDK caches under <c>slurm.workdir</c> (compute nodes must see them), keyed by this target.</summary>
    public override void AddRunner(IServiceCollection services, AgentOptions options)
    {
        PythonCaches.AddTargetCaches(services, Key, new CacheRoot(() => SlurmRunner.Workdir(options)));
        services.AddRunner<SlurmRunner>(Name);
    }

    [GeneratedRegex(@"^\.env\..+$")]
    private static partial Regex EnvironmentValuePath();
}
