using Liftoff.Agent.Builders;
using Liftoff.Agent.Builders.Docker;
using Liftoff.Agent.Runners;
using Liftoff.Agent.Runners.Docker;
using Liftoff.Agent.Runners.Kubernetes;
using Liftoff.Agent.Runners.LocalProcess;
using Liftoff.Agent.Runners.SageMaker;
using Liftoff.Agent.Runners.Vertex;
using Liftoff.Client;
using Liftoff.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Liftoff.Agent;

/// <summary>The name a runner is registered under (a queue's resource), listed when an agent refuses a queue it cannot run.</summary>
internal sealed record RunnerName(string Name);

internal static class AgentRegistration
{
    /// <summary>The agent loop, talking to the server through <paramref name="client"/>. Add runners with their own extension methods.</summary>
    public static IServiceCollection AddLiftoffAgent(this IServiceCollection services, LiftoffClient client, AgentOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(client);
        services.AddSingleton(options);
        services.AddSingleton<CacheLock>();
        services.AddSingleton<AgentWorker>();
        services.TryAddSingleton<IImageBuilder, NoopImageBuilder>();
        return services;
    }

    public static IServiceCollection AddLocalProcessRunner(this IServiceCollection services)
    {
        services.TryAddSingleton<CodeFetcher>();
        services.AddSingleton<PythonEnvironments>();
        services.TryAddSingleton<PythonSdk>();
        services.AddSingleton(new RunnerName(Resources.LocalProcess));
        services.AddKeyedSingleton<ILaunchRunner, LocalProcessRunner>(Resources.LocalProcess);
        return services;
    }

    /// <summary>
    /// The <c>docker</c> target, and builder <c>docker</c> when the agent config asks for it (<c>builder: {type: docker}</c>);
    /// without it the noop builder runs image jobs only.
    /// </summary>
    public static IServiceCollection AddDockerRunner(this IServiceCollection services, AgentOptions options)
    {
        services.TryAddSingleton<DockerEngine>();
        services.TryAddSingleton<CodeFetcher>();
        services.TryAddSingleton<PythonSdk>();
        if (options.Builder?.Type == "docker")
        {
            services.AddSingleton<IImageBuilder, DockerImageBuilder>();
        }

        services.AddSingleton(new RunnerName(Resources.Docker));
        services.AddKeyedSingleton<ILaunchRunner, DockerRunner>(Resources.Docker);
        return services;
    }

    public static IServiceCollection AddKubernetesRunner(this IServiceCollection services)
    {
        services.AddSingleton<KubernetesCluster>();
        services.AddSingleton(new RunnerName(Resources.Kubernetes));
        services.AddKeyedSingleton<ILaunchRunner, KubernetesRunner>(Resources.Kubernetes);
        return services;
    }

    public static IServiceCollection AddSageMakerRunner(this IServiceCollection services)
    {
        services.AddSingleton<SageMakerClients>();
        services.AddSingleton(new RunnerName(Resources.SageMaker));
        services.AddKeyedSingleton<ILaunchRunner, SageMakerRunner>(Resources.SageMaker);
        return services;
    }

    public static IServiceCollection AddVertexRunner(this IServiceCollection services)
    {
        services.AddSingleton<VertexClient>();
        services.AddSingleton(new RunnerName(Resources.Vertex));
        services.AddKeyedSingleton<ILaunchRunner, VertexRunner>(Resources.Vertex);
        return services;
    }
}
