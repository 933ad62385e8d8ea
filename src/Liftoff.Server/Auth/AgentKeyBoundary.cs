using System.Security.Claims;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Server.Auth;

/// <summary>
/// What an agent-only key (a key limited to agent work on named queues) may do on an endpoint. An endpoint that declares
/// nothing is closed to it, so a new endpoint is closed to agents' keys until someone decides otherwise (docs/api.md has
/// the table; AgentKeyMatrixTests holds every endpoint to it).
/// </summary>
internal enum AgentKeyAccess
{
    Refused,

    /// <summary>Nothing here reaches beyond the caller's own identity.</summary>
    Allowed,

    /// <summary>The route's <c>{name}</c> must be one of the key's queues.</summary>
    Queue,

    /// <summary>The route's <c>{id}</c> is an agent polling the key's queues only (an unknown agent is the handler's 404).</summary>
    Agent,

    /// <summary>The route's <c>{id}</c> is an item of one of the key's queues (an unknown item is the handler's 404).</summary>
    Item,

    /// <summary>The route's <c>{id}</c> is a run launched from an item of one of the key's queues.</summary>
    Run,

    /// <summary>Let through: the handler checks with <see cref="AgentKeyScope"/>.</summary>
    Checked,
}

/// <summary>Endpoint metadata: the <see cref="AgentKeyAccess"/> of the endpoint.</summary>
internal sealed record AgentKeyRule(AgentKeyAccess Access);

internal static class AgentKeyBoundary
{
    public static TBuilder AgentKey<TBuilder>(this TBuilder builder, AgentKeyAccess access)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new AgentKeyRule(access));

    /// <summary>After the entity is resolved: refuses an agent-only key where its <see cref="AgentKeyRule"/> closes the endpoint or the resource to it.</summary>
    public static IApplicationBuilder UseAgentKeyBoundary(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.User.FindFirstValue(Caller.AgentQueuesClaim) is not null && context.GetEndpoint() is { } endpoint
            && endpoint.Metadata.GetMetadata<IAuthorizeData>() is not null && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null
            && await RefusalAsync(endpoint, context) is { } refusal)
        {
            throw new ForbiddenException(refusal);
        }

        await next(context);
    });

    private static async Task<string?> RefusalAsync(Endpoint endpoint, HttpContext context)
    {
        var caller = Caller.From(context.User);
        var queues = caller.AgentQueues!;
        var rule = endpoint.Metadata.GetMetadata<AgentKeyRule>() ?? new AgentKeyRule(AgentKeyAccess.Refused);
        var id = context.Request.RouteValues["id"] as string;
        var store = context.RequestServices.GetRequiredService<IQueueStore>();
        var cancellationToken = context.RequestAborted;
        switch (rule.Access)
        {
            case AgentKeyAccess.Refused:
                return $"{AgentKeyScope.Rule(queues)}: it may not call {context.Request.Method} {(endpoint as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.ToString()}";
            case AgentKeyAccess.Queue when context.Request.RouteValues["name"] is string name && !queues.Contains(name, StringComparer.Ordinal):
                return $"{AgentKeyScope.Rule(queues)}, not queue '{name}'";
            case AgentKeyAccess.Agent when await store.GetAgentAsync(Acting.Of(context).EntityId, id!, cancellationToken) is { } agent
                && agent.Queues.FirstOrDefault(q => !queues.Contains(q, StringComparer.Ordinal)) is { } other:
                return $"{AgentKeyScope.Rule(queues)}; agent {id} polls queue '{other}' too";
            case AgentKeyAccess.Item when await store.GetItemAsync(Acting.Of(context).EntityId, id!, cancellationToken) is { } item && !queues.Contains(item.Queue, StringComparer.Ordinal):
                return $"{AgentKeyScope.Rule(queues)}; item {id} is on queue '{item.Queue}'";
            case AgentKeyAccess.Run when await store.FindItemByRunAsync(Acting.Of(context).EntityId, id!, cancellationToken) is not { } launch || !queues.Contains(launch.Queue, StringComparer.Ordinal):
                return $"{AgentKeyScope.Rule(queues)}; run {id} was not launched from them";
            default:
                return null;
        }
    }
}

/// <summary>
/// The checks of the endpoints an agent-only key reaches as <see cref="AgentKeyAccess.Checked"/>: it registers agents on
/// its queues only, lists only the agents polling them, and reads only the job versions and code of the items its queues' agents hold (what a launch needs).
/// Every check passes for any other key.
/// </summary>
internal sealed class AgentKeyScope(IQueueStore queues, RunKeyScope launches)
{
    private static readonly string[] HeldStates = [ItemStates.Leased, ItemStates.Starting, ItemStates.Running, ItemStates.Stopping];

    /// <summary>What every refusal of an agent-only key starts with, so that a person reading it knows the key's limit.</summary>
    public static string Rule(IReadOnlyList<string> queues) =>
        $"this API key is agent-only: it claims, heartbeats and reports items of queue(s) {string.Join(", ", queues)} and reads what their launches need";

    /// <summary>
    /// Whether the caller sees an agent polling <paramref name="agentQueues"/>: an agent-only key sees the agents that poll
    /// its queues only (the ones its heartbeat and claim rule lets it drive), so an agent host can ask after itself.
    /// </summary>
    public static bool Sees(Caller caller, IReadOnlyList<string> agentQueues) =>
        caller.AgentQueues is not { } allowed || agentQueues.All(q => allowed.Contains(q, StringComparer.Ordinal));

    public static void DemandQueues(Caller caller, IEnumerable<string> names)
    {
        if (caller.AgentQueues is { } allowed && names.FirstOrDefault(n => !allowed.Contains(n, StringComparer.Ordinal)) is { } other)
        {
            throw new ForbiddenException($"{Rule(allowed)}, not queue '{other}'");
        }
    }

    public async Task DemandReadAsync(Caller caller, Acting acting, ArtifactVersionRecord version, CancellationToken cancellationToken)
    {
        if (caller.AgentQueues is { } allowed
            && !(await HeldLaunchVersionsAsync(acting.EntityId, allowed, cancellationToken)).Any(v => v.Project == version.Project && v.Name == version.Name && v.Version == version.Version))
        {
            throw new ForbiddenException($"{Rule(allowed)}; {version.Project}/{version.Name}:v{version.Version} is not the job or code of an item held on them");
        }
    }

    public async Task DemandBlobAsync(Caller caller, Acting acting, string digest, CancellationToken cancellationToken)
    {
        if (caller.AgentQueues is { } allowed
            && !(await HeldLaunchVersionsAsync(acting.EntityId, allowed, cancellationToken)).Any(v => v.Files?.Any(f => f.Sha256 == digest) == true))
        {
            throw new ForbiddenException($"{Rule(allowed)}; blob {digest} is in no job or code of an item held on them");
        }
    }

    /// <summary>The job versions (and code) of the items claimed and not yet ended on the key's queues.</summary>
    private async Task<IReadOnlyList<ArtifactVersionRecord>> HeldLaunchVersionsAsync(long entityId, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var versions = new List<ArtifactVersionRecord>();
        foreach (var name in names)
        {
            if (await queues.GetQueueAsync(entityId, name, cancellationToken) is not { } queue)
            {
                continue;
            }

            foreach (var state in HeldStates)
            {
                foreach (var item in await queues.ListItemsAsync(queue.Id, state, Limits.MaxAgentJobs, cancellationToken))
                {
                    versions.AddRange(await launches.LaunchVersionsAsync(entityId, item, cancellationToken));
                }
            }
        }

        return versions;
    }
}
