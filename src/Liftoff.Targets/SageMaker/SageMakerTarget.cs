using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets.SageMaker;

/// <summary>
/// <c>sagemaker</c>: each attempt is a SageMaker training job. The resource config is CreateTrainingJob members
/// (<see cref="SageMakerSchema"/>), checked against the AWS service model embedded with this target; the agent's
/// cloud settings are its <c>environment:</c> section, shared with the other cloud targets.
/// </summary>
internal sealed partial class SageMakerTarget : TargetDefinition
{
    public override string Name => Resources.SageMaker;

    public override bool IsEnvironmentValue(string path) => EnvironmentValuePath().IsMatch(path);

    public override string EnvironmentValues => "Environment.NAME";

    protected override string EnvironmentMember => "Environment";

    public override IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete) => SageMakerSchema.Validate(config, field, complete);

    public override void AddRunner(IServiceCollection services, AgentOptions options)
    {
        services.AddSingleton<SageMakerClients>();
        services.AddRunner<SageMakerRunner>(Name);
    }

    [GeneratedRegex(@"^\.Environment\..+$")]
    private static partial Regex EnvironmentValuePath();
}
