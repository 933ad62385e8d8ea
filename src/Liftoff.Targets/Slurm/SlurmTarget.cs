using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Liftoff.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets.Slurm;

/// <summary>
/// <c>slurm</c>: each attempt is a batch job submitted with <c>sbatch</c> from the agent's login node. The resource
/// config is <see cref="SlurmResourceConfig"/>, the script <see cref="SlurmBatchScript"/>, the agent config section
/// <c>slurm:</c> (<see cref="SlurmSettings"/>).
/// </summary>
internal sealed partial class SlurmTarget : TargetDefinition
{
    public override string Name => "slurm";

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
    /// The batch script as the agent would submit it. What only the agent knows at claim (its job name, the attempt's
    /// folder under its shared working directory, the server's URL as compute nodes see it) stands as a marked
    /// <c>&lt;placeholder&gt;</c>; the run key and secrets are in the secrets file the script sources, shown by its path.
    /// </summary>
    public override string RenderDryRun(LaunchSpec spec)
    {
        var config = SlurmResourceConfig.Parse(spec.ResourceConfig);
        var image = spec.JobDefinition.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.Object && source.TryGetProperty("image", out var i)
            ? i.GetString()
            : null;
        var run = new Dictionary<string, string>(spec.Environment, StringComparer.Ordinal)
        {
            ["LIFTOFF_BASE_URL"] = "<server URL as compute nodes see it>",
            ["WANDB_BASE_URL"] = "<server URL as compute nodes see it>",
            ["LIFTOFF_CONSOLE"] = "off",
            ["PYTHONUNBUFFERED"] = "1",
        };
        var (exported, _) = SlurmBatchScript.SplitEnvironment(config, run, (_, value) => value);
        const string attempt = "<slurm.workdir>/<attempt folder>";
        var submission = new SlurmSubmission("<job name given by the agent>", "<comment given by the agent>", attempt, attempt + "/output.log",
            attempt + "/secrets.env", spec.Entrypoint, exported, image);
        return SlurmBatchScript.Render(config, submission);
    }

    public override void AddRunner(IServiceCollection services, AgentOptions options) => services.AddRunner<SlurmRunner>(Name);

    [GeneratedRegex(@"^\.env\..+$")]
    private static partial Regex EnvironmentValuePath();
}
