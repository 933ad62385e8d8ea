using System.Text.Json.Nodes;
using Liftoff.Core.Launch.Kubernetes;

namespace Liftoff.Core.Launch;

/// <summary>
/// The resource config of <c>kubernetes</c> queues: a batch/v1 Job manifest, or fragments of one, merged over the runner's
/// default Job. The Job it would make is checked against the Kubernetes OpenAPI definitions, so an invalid or unknown
/// field is refused at enqueue with its path, not by the cluster when the agent submits it.
/// </summary>
internal static class KubernetesSchema
{
    public static IReadOnlyList<FieldError> Validate(JsonObject config, string field) => KubernetesJobs.Check(config, field);
}
