using Liftoff.Targets.Docker;
using Liftoff.Targets.Kubernetes;
using Liftoff.Targets.LocalProcess;
using Liftoff.Targets.SageMaker;
using Liftoff.Targets.Slurm;
using Liftoff.Targets.Vertex;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Liftoff.Targets;

/// <summary>The name a runner is registered under (a queue's resource), listed when an agent refuses a queue it cannot run.</summary>
internal sealed record RunnerName(string Name);

/// <summary>The targets this build has, and their registration (Aspire's keyed pattern: one name, one definition, one runner).</summary>
internal static class TargetRegistry
{
    /// <summary>Every target, each a folder beside this file. A new target is its folder and one line here.</summary>
    public static IReadOnlyList<TargetDefinition> All { get; } =
    [
        new LocalProcessTarget(),
        new DockerTarget(),
        new KubernetesTarget(),
        new SageMakerTarget(),
        new VertexTarget(),
        new SlurmTarget(),
    ];

    /// <summary>The definition named <paramref name="name"/> among <see cref="All"/>, or null.</summary>
    public static TargetDefinition? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>Every target's definition, keyed by its name; the server's <see cref="TargetCatalog"/> is made of these.</summary>
    public static IServiceCollection AddTargets(this IServiceCollection services)
    {
        foreach (var target in All)
        {
            services.AddTarget(target);
        }

        return services;
    }

    /// <summary>One target's definition, keyed by its name and listed among the catalog's.</summary>
    public static IServiceCollection AddTarget(this IServiceCollection services, TargetDefinition target)
    {
        services.AddKeyedSingleton(target.Name, target);
        services.AddSingleton(target);
        services.TryAddSingleton<TargetCatalog>();
        return services;
    }

    /// <summary>The agent side: every target's runner.</summary>
    public static IServiceCollection AddTargetRunners(this IServiceCollection services, AgentOptions options)
    {
        foreach (var target in All)
        {
            target.AddRunner(services, options);
        }

        return services;
    }

    /// <summary>The agent side: one target's runner, for an agent built with some targets only (tests, benchmarks).</summary>
    public static IServiceCollection AddTargetRunner(this IServiceCollection services, string name, AgentOptions options)
    {
        (Find(name) ?? throw new ArgumentException($"'{name}' is not a target: {string.Join(", ", All.Select(t => t.Name))}", nameof(name))).AddRunner(services, options);
        return services;
    }

    /// <summary>A target's runner under its name, as the agent loop looks it up for each claim.</summary>
    public static IServiceCollection AddRunner<TRunner>(this IServiceCollection services, string name)
        where TRunner : class, ILaunchRunner
    {
        services.AddSingleton(new RunnerName(name));
        services.AddKeyedSingleton<ILaunchRunner, TRunner>(name);
        return services;
    }
}
