using Liftoff.Client;
using Liftoff.Targets;
using Liftoff.Targets.Builders;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Liftoff.Agent;

internal static class AgentRegistration
{
    /// <summary>
    /// The agent loop, talking to the server through <paramref name="client"/>. Add runners with
    /// <see cref="TargetRegistry.AddTargetRunners"/> (every target) or <see cref="TargetRegistry.AddTargetRunner"/>.
    /// </summary>
    public static IServiceCollection AddLiftoffAgent(this IServiceCollection services, LiftoffClient client, AgentOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(client);
        services.AddSingleton(options);
        services.AddSingleton<AgentWorker>();
        services.TryAddSingleton<IImageBuilder, NoopImageBuilder>();
        return services;
    }
}
