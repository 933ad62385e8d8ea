using System.Text.Json.Nodes;

namespace Liftoff.Targets.SageMaker;

/// <summary>
/// The resource config of <c>sagemaker</c> queues: CreateTrainingJob members (RoleArn, ResourceConfig, StoppingCondition,
/// OutputDataConfig, VpcConfig, …) checked against the SageMaker service model. The agent sets TrainingJobName (from the
/// run id), AlgorithmSpecification.TrainingImage (the job's image) and defaults AlgorithmSpecification.TrainingInputMode to
/// File; the run's variables join Environment.
/// </summary>
public static class SageMakerSchema
{
    public const string Operation = "CreateTrainingJob";

    /// <summary>Members only the agent sets, as dotted paths from the CreateTrainingJob request.</summary>
    public static readonly IReadOnlySet<string> SetByAgent = new HashSet<string>(StringComparer.Ordinal)
    {
        "TrainingJobName", "AlgorithmSpecification.TrainingImage", "AlgorithmSpecification.AlgorithmName",
    };

    /// <summary>Members the agent fills when a config leaves them out.</summary>
    public static readonly IReadOnlySet<string> Defaulted = new HashSet<string>(StringComparer.Ordinal)
    {
        "AlgorithmSpecification", "AlgorithmSpecification.TrainingInputMode",
    };

    /// <param name="complete">A launch's effective config (required members checked), not a queue's defaults.</param>
    public static IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete)
    {
        var model = AwsServiceModel.SageMaker;
        return model.Validate(config, model.InputShape(Operation), field, new AwsValidation(complete, SetByAgent, Defaulted, AllowMacros: true));
    }
}
