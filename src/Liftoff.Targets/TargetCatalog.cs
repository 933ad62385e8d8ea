using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Targets;

/// <summary>
/// The registered targets, as the server sees them: which resources a queue may run on, and what each one accepts in
/// its resource config, checked at enqueue so the agent never discovers a bad config.
/// </summary>
internal sealed class TargetCatalog(IEnumerable<TargetDefinition> targets)
{
    private readonly IReadOnlyList<TargetDefinition> _targets = [.. targets.DistinctBy(t => t.Name)];

    /// <summary>The resource names, in registration order.</summary>
    public IReadOnlyList<string> Names => [.. _targets.Select(t => t.Name)];

    public TargetDefinition? Find(string resource) => _targets.FirstOrDefault(t => t.Name == resource);

    /// <summary>The refusal of a resource that is not registered, naming the ones that are.</summary>
    public string NotATarget(string resource) => $"'{resource}' is not a target resource: {string.Join(", ", Names)}";

    /// <inheritdoc cref="TargetDefinition.Validate"/>
    public IReadOnlyList<FieldError> Validate(string resource, JsonObject config, string field, bool complete = true) =>
        Find(resource)?.Validate(config, field, complete) ?? [];

    /// <inheritdoc cref="TargetDefinition.RefuseJob"/>
    public string? RefuseJob(string resource, string? sourceType, JsonObject config) => Find(resource)?.RefuseJob(sourceType, config);

    /// <inheritdoc cref="TargetDefinition.ValidateOverrides"/>
    public IReadOnlyList<FieldError> ValidateOverrides(string resource, JsonElement queueDefaults, JsonElement? overrides, string field) =>
        Find(resource)?.ValidateOverrides(queueDefaults, overrides, field) ?? [];
}
