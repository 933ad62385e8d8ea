using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Liftoff.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets.Vertex;

/// <summary>
/// <c>vertex</c>: each attempt is a Vertex AI CustomJob. The resource config is CustomJobSpec fields
/// (<see cref="VertexSchema"/>), checked against the Vertex AI protos embedded with this target; the agent's cloud
/// settings are its <c>environment:</c> section, shared with the other cloud targets.
/// </summary>
internal sealed partial class VertexTarget : TargetDefinition
{
    public override string Name => Resources.Vertex;

    public override bool IsEnvironmentValue(string path) => EnvironmentValuePath().IsMatch(path);

    public override string EnvironmentValues => "env.NAME";

    protected override string EnvironmentMember => VertexSchema.Env;

    public override IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete) => VertexSchema.Validate(config, field, complete);

    public override void AddRunner(IServiceCollection services, AgentOptions options)
    {
        services.AddSingleton<VertexClient>();
        services.AddRunner<VertexRunner>(Name);
    }

    [GeneratedRegex(@"^\.env\..+$")]
    private static partial Regex EnvironmentValuePath();
}
