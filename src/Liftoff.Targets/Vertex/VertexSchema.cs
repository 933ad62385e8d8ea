using System.Text.Json.Nodes;

namespace Liftoff.Targets.Vertex;

/// <summary>
/// The resource config of <c>vertex</c> queues: CustomJobSpec fields (workerPoolSpecs with machineSpec, replicaCount,
/// diskSpec; serviceAccount; network; scheduling; …) checked against the Vertex AI protos. The agent sets each worker
/// pool's containerSpec (the job's image, entrypoint and the run's variables).
/// </summary>
public static class VertexSchema
{
    /// <summary>Fields only the agent sets, as dotted lowerCamel paths from CustomJobSpec.</summary>
    public static readonly IReadOnlySet<string> SetByAgent = new HashSet<string>(StringComparer.Ordinal)
    {
        "workerPoolSpecs.containerSpec", "workerPoolSpecs.pythonPackageSpec",
    };

    /// <summary>
    /// The one member that is Liftoff's, not CustomJobSpec's: variables for every worker pool's container (whose env the
    /// agent otherwise owns), and the place for <c>${secret:NAME}</c> references.
    /// </summary>
    public const string Env = "env";

    /// <param name="complete">A launch's effective config (required fields checked), not a queue's defaults.</param>
    public static IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete)
    {
        var errors = new List<FieldError>();
        if (config.ContainsKey(Env))
        {
            EnvConfig.Check(config[Env], $"{field}.{Env}", errors);
        }

        errors.AddRange(VertexProtoModel.Instance.Validate(JobSpec(config), VertexProtoModel.CustomJobSpec, field,
            new VertexValidation(complete, SetByAgent, AllowOutputOnly: false, AllowMacros: true, Within: ["CustomJob"])));
        return errors;
    }

    /// <summary>The CustomJobSpec of <paramref name="config"/>: a copy without <see cref="Env"/>.</summary>
    public static JsonObject JobSpec(JsonObject config)
    {
        var spec = config.DeepClone().AsObject();
        spec.Remove(Env);
        return spec;
    }
}
