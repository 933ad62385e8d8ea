using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// <c>local-process</c>: the job runs as a process group on the agent's machine, in a virtual environment made from its
/// requirements. Its resource config is <see cref="LocalProcessSchema"/>; its agent setting is the top-level <c>python</c>.
/// </summary>
internal sealed partial class LocalProcessTarget : TargetDefinition
{
    public override string Name => Resources.LocalProcess;

    public override bool IsEnvironmentValue(string path) => EnvironmentValuePath().IsMatch(path);

    public override string EnvironmentValues => "env.NAME";

    protected override string EnvironmentMember => "env";

    /// <summary>As <see cref="LocalProcessRunner"/> sets them; the job also takes the few variables of the agent's own environment <see cref="InheritedEnvironment"/> allows (PATH, HOME, the locale…).</summary>
    protected override IEnumerable<KeyValuePair<string, string>> AgentVariables =>
    [
        .. base.AgentVariables,
        new("VIRTUAL_ENV", "<the job's virtual environment>"),
        new("PATH", "<the virtual environment's bin>:<the agent's PATH>"),
        new("PYTHONPATH", "<the Liftoff SDK>[:env.PYTHONPATH]"),
    ];

    public override IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete) => LocalProcessSchema.Validate(config, field);

    public override void AddRunner(IServiceCollection services, AgentOptions options)
    {
        PythonCaches.AddAgentCaches(services, options);
        services.AddRunner<LocalProcessRunner>(Name);
    }

    [GeneratedRegex(@"^\.env\..+$")]
    private static partial Regex EnvironmentValuePath();
}
