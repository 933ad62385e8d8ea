using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;

namespace Liftoff.Core.Launch;

/// <summary>
/// What each target accepts in its resource config, checked at enqueue so the agent never discovers a bad config.
/// Targets without a runner yet accept any object.
/// </summary>
public static class ResourceSchemas
{
    /// <summary>Every problem of <paramref name="config"/> for <paramref name="resource"/>, each named by its path under <paramref name="field"/>.</summary>
    /// <param name="complete">
    /// A launch's effective config, checked for the members a target requires; a queue's defaults (false) may leave
    /// them to each launch.
    /// </param>
    public static IReadOnlyList<FieldError> Validate(string resource, JsonObject config, string field, bool complete = true) => resource switch
    {
        Resources.LocalProcess => LocalProcessSchema.Validate(config, field),
        Resources.Docker => DockerSchema.Validate(config, field),
        Resources.Kubernetes => KubernetesSchema.Validate(config, field),
        Resources.SageMaker => SageMakerSchema.Validate(config, field, complete),
        Resources.Vertex => VertexSchema.Validate(config, field, complete),
        _ => [],
    };

    /// <summary>What a launch item's own <paramref name="overrides"/> may not set unless the queue's defaults grant it (DESIGN.md §1).</summary>
    public static IReadOnlyList<FieldError> ValidateOverrides(string resource, JsonElement queueDefaults, JsonElement? overrides, string field) => resource switch
    {
        Resources.Docker => DockerSchema.ValidateOverrides(queueDefaults, overrides, field),
        _ => [],
    };

    /// <summary>An <c>env</c> member: variable names to string, number or boolean values.</summary>
    internal static void CheckEnv(JsonNode? value, string path, List<FieldError> errors)
    {
        if (value is not JsonObject env)
        {
            errors.Add(new FieldError(path, "env is an object of variable names to string values"));
            return;
        }

        foreach (var (name, v) in env)
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
            {
                errors.Add(new FieldError($"{path}.{name}", "not a valid environment variable name"));
            }
            else if (v is not JsonValue leaf || leaf.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
            {
                errors.Add(new FieldError($"{path}.{name}", "environment values are strings, numbers or booleans"));
            }
        }
    }
}
