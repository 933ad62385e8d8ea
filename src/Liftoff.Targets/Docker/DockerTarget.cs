using System.Text.RegularExpressions;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Targets.Builders;
using Liftoff.Targets.Builders.Docker;
using Liftoff.Targets.LocalProcess;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Liftoff.Targets.Docker;

/// <summary>
/// <c>docker</c>: the job runs as a container on the agent's Docker engine. Its resource config is the
/// <c>docker run</c> options of <see cref="DockerSchema"/>, its agent config section <c>docker:</c> (<see cref="DockerSettings"/>).
/// </summary>
internal sealed partial class DockerTarget : TargetDefinition
{
    public override string Name => Resources.Docker;

    public override AgentConfigSection AgentConfig { get; } = new AgentConfigSection<DockerSettings>("docker", s => s.Validate());

    public override bool IsEnvironmentValue(string path) => EnvironmentValuePath().IsMatch(path);

    public override string EnvironmentValues => "env.NAME";

    protected override string EnvironmentMember => "env";

    public override IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete) => DockerSchema.Validate(config, field);

    public override IReadOnlyList<FieldError> ValidateOverrides(JsonElement queueDefaults, JsonElement? overrides, string field) =>
        DockerSchema.ValidateOverrides(queueDefaults, overrides, field);

    /// <summary>The runner, and builder <c>docker</c> when the agent config asks for it (<c>builder: {type: docker}</c>); without it the noop builder runs image jobs only.</summary>
    public override void AddRunner(IServiceCollection services, AgentOptions options)
    {
        services.TryAddSingleton<DockerEngine>();
        PythonCaches.AddAgentCaches(services, options);
        if (options.Builder?.Type == "docker")
        {
            services.AddSingleton<IImageBuilder, DockerImageBuilder>();
        }

        services.AddRunner<DockerRunner>(Name);
    }

    [GeneratedRegex(@"^\.env\..+$")]
    private static partial Regex EnvironmentValuePath();
}
