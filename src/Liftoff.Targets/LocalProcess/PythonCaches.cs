using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// The folder the code, virtual-environment and SDK caches live under. Read when a cache is used, not when it is made,
/// so an agent whose config lacks a target's folder still starts (the target's runner refuses its items instead).
/// </summary>
internal sealed class CacheRoot(Func<string> directory)
{
    public string Directory => directory();
}

/// <summary>
/// One target's code, virtual-environment and SDK caches, as its runner takes them: the agent's own (local-process and
/// the image builders) or those of a target whose jobs run elsewhere and need them on a shared file system (slurm).
/// </summary>
internal sealed record PythonCaches(CodeFetcher Code, PythonEnvironments Environments, PythonSdk Sdk)
{
    /// <summary>The caches under the agent's work directory, unkeyed: local-process and the image builders share them.</summary>
    public static IServiceCollection AddAgentCaches(IServiceCollection services, AgentOptions options)
    {
        services.TryAddSingleton<CacheLock>();
        services.TryAddSingleton(new CacheRoot(() => options.WorkDirectory));
        services.TryAddSingleton<CodeFetcher>();
        services.TryAddSingleton<PythonEnvironments>();
        services.TryAddSingleton<PythonSdk>();
        return services;
    }

    /// <summary>A target's own caches under <paramref name="root"/>, keyed by the target's name (<c>[FromKeyedServices(name)] PythonCaches</c>).</summary>
    public static IServiceCollection AddTargetCaches(IServiceCollection services, string target, CacheRoot root)
    {
        services.TryAddSingleton<CacheLock>();
        services.TryAddKeyedSingleton(target, (sp, _) => new PythonCaches(
            ActivatorUtilities.CreateInstance<CodeFetcher>(sp, root),
            ActivatorUtilities.CreateInstance<PythonEnvironments>(sp, root),
            ActivatorUtilities.CreateInstance<PythonSdk>(sp, root)));
        return services;
    }
}
