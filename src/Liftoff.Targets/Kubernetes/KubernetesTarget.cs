using System.Text.RegularExpressions;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets.Kubernetes;

/// <summary>
/// <c>kubernetes</c>: the resource config is a batch/v1 Job manifest, or fragments of one, merged over the runner's
/// default Job. The Job it would make is checked against the Kubernetes OpenAPI definitions, so an invalid or unknown
/// field is refused at enqueue with its path, not by the cluster when the agent submits it. <c>--dry-run</c> shows the
/// Job and Secret as YAML; the agent config section is <c>kubernetes:</c> (<see cref="KubernetesSettings"/>).
/// </summary>
internal sealed partial class KubernetesTarget : TargetDefinition
{
    public override string Name => Resources.Kubernetes;

    public override AgentConfigSection AgentConfig { get; } = new AgentConfigSection<KubernetesSettings>("kubernetes", s => s.Validate());

    public override bool IsEnvironmentValue(string path) => EnvironmentValuePath().IsMatch(path);

    public override string EnvironmentValues => "a container's env[].value";

    public override IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete) => KubernetesJobs.Check(config, field);

    public override IReadOnlyList<FieldError> ValidateOverrides(JsonElement queueDefaults, JsonElement? overrides, string field) =>
        KubernetesJobs.CheckOverrides(queueDefaults, overrides, field);

    /// <summary>
    /// The Job (then its Secret, with the key elided and secrets shown as their references) a kubernetes agent would create, as YAML; the agent fills in what
    /// only it knows: the image its builder makes for code jobs, its namespace, its name, its image pull secrets.
    /// </summary>
    public override string RenderDryRun(LaunchSpec spec)
    {
        var image = spec.JobDefinition.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.Object && source.TryGetProperty("image", out var i)
            ? i.GetString()!
            : "<image built by the agent's builder>";
        var target = new KubernetesJobTarget("liftoff-<run id>-<attempt>", "<agent's namespace>", image, "liftoff-<run id>-<attempt>", "<agent name>", [], 3600,
            new Dictionary<string, string>(StringComparer.Ordinal) { ["LIFTOFF_BASE_URL"] = "<server URL as pods see it>", ["WANDB_BASE_URL"] = "<server URL as pods see it>" });
        var resource = spec.ResourceConfig.ValueKind == JsonValueKind.Object ? JsonNode.Parse(spec.ResourceConfig.GetRawText())!.AsObject() : [];
        var (job, secret) = KubernetesJobs.BuildWithSecret(spec, resource, target);
        foreach (var key in KubernetesJobs.SecretVariables.Where(secret["stringData"]!.AsObject().ContainsKey))
        {
            secret["stringData"]![key] = "<run-scoped key, minted at claim>";
        }

        return Yaml.Write(job) + "---\n" + Yaml.Write(secret);
    }

    public override void AddRunner(IServiceCollection services, AgentOptions options)
    {
        services.AddSingleton<KubernetesCluster>();
        services.AddRunner<KubernetesRunner>(Name);
    }

    [GeneratedRegex(@"^\.spec\.template\.spec\.(initContainers|containers)\[\d+\]\.env\[\d+\]\.value$")]
    private static partial Regex EnvironmentValuePath();
}
