using System.Collections.Concurrent;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Server.Auth;

/// <summary>
/// Endpoint metadata: the role in the request's entity the endpoint needs, or <paramref name="CallersOwn"/> for the
/// endpoints that act on the caller's own identity (their keys, their session) whatever entity is named. An endpoint
/// that needs a key and declares nothing needs admin, so a new endpoint is closed until someone decides otherwise
/// (docs/api.md has the table; EntityRoleMatrixTests holds every endpoint to it).
/// <paramref name="RouteParameter"/> names the entity in the path instead of the query (<c>/teams/{name}</c>).
/// </summary>
internal sealed record EntityRule(EntityRole Role, bool CallersOwn = false, string? RouteParameter = null);

/// <summary>The entity a request acts on (whose things it touches) and the caller's role in it.</summary>
internal sealed record Acting(long EntityId, string Entity, EntityRole Role)
{
    public static Acting Of(HttpContext http) => http.Features.Get<Acting>()
        ?? throw new InvalidOperationException($"no entity was resolved for {http.Request.Path}: the endpoint needs an {nameof(EntityRule)}");

    /// <summary>Refuses (403) a caller whose role here is below <paramref name="role"/>; <paramref name="what"/> names what they asked.</summary>
    public void Demand(EntityRole role, string what)
    {
        if (Role < role)
        {
            throw new ForbiddenException($"{what} needs the {EntityRoles.Name(role)} role in '{Entity}'; you are {(Role == EntityRole.None ? "not a member" : "a " + EntityRoles.Name(Role))}");
        }
    }

    /// <summary>Members move and cancel the items they submitted; admins anyone's.</summary>
    public void DemandOwnOrAdmin(string? submittedBy, string caller, string what)
    {
        if (Role < EntityRole.Admin && submittedBy != caller)
        {
            throw new ForbiddenException($"only an admin of '{Entity}' may {what} another member's item (this one was submitted by '{submittedBy}')");
        }
    }
}

/// <summary>An entity the caller may not see, or that does not exist (HTTP 404: the two look the same).</summary>
internal sealed class EntityNotFoundException(string entity)
    : Exception($"there is no entity '{entity}' that you are a member of; see your teams with GET /api/v1/teams");

internal static class EntityAccessRule
{
    /// <summary>The query parameter naming the entity a request acts on.</summary>
    public const string Parameter = "entity";

    public static TBuilder Needs<TBuilder>(this TBuilder builder, EntityRole role, string? routeParameter = null)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new EntityRule(role, RouteParameter: routeParameter));

    public static TBuilder CallersOwn<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new EntityRule(EntityRole.None, CallersOwn: true));

    /// <summary>
    /// After the run-key boundary: resolves the entity the request acts on (the <c>entity</c> query parameter, else the
    /// caller's default entity, else the caller), and refuses the caller without the role the endpoint needs there.
    /// </summary>
    public static IApplicationBuilder UseEntityAccess(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint() is { } endpoint && NeedsKey(endpoint) && context.User.Identity?.IsAuthenticated == true)
        {
            var rule = endpoint.Metadata.GetMetadata<EntityRule>() ?? new EntityRule(EntityRole.Admin);
            var acting = await ResolveAsync(context, rule);
            // Set before the check too, so that a refusal is recorded against the entity it was refused in.
            context.Features.Set(acting);
            acting.Demand(rule.Role, $"{context.Request.Method} {(endpoint as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path}");
        }

        await next(context);
    });

    /// <summary>Whether the endpoint takes a key or session: an authorization requirement, and no exemption from it.</summary>
    public static bool NeedsKey(Endpoint endpoint) =>
        (endpoint.Metadata.GetMetadata<IAuthorizeData>() is not null || endpoint.Metadata.GetMetadata<AuthorizationPolicy>() is not null)
        && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null;

    private static async Task<Acting> ResolveAsync(HttpContext context, EntityRule rule)
    {
        if (rule.CallersOwn)
        {
            // A service account's identity is its team's to manage: it reads who it is, and changes nothing of its own.
            var caller = Caller.From(context.User);
            return caller.Account is { } team && !HttpMethods.IsGet(context.Request.Method)
                ? throw new ForbiddenException($"{context.Request.Method} {context.Request.Path} acts on the caller's own identity, and a service account's "
                    + $"keys and settings are managed by the admins of '{team.Team}' (liftoff service-account ... --team {team.Team})")
                : new Acting(caller.Id, caller.Name, EntityRole.Admin);
        }

        var named = rule.RouteParameter is { } parameter ? context.Request.RouteValues[parameter] as string
            : context.Request.Query[Parameter].ToString() is { Length: > 0 } value ? value : null;
        return await ActOnAsync(context, named);
    }

    /// <summary>
    /// The entity <paramref name="named"/> as the caller acts on it, with their role there (null: the default entity, else
    /// the caller): 404 for an entity the caller may not see. The wandb clients name their entity in request bodies,
    /// which go through this same rule.
    /// </summary>
    public static async Task<Acting> ActOnAsync(HttpContext context, string? named)
    {
        var caller = Caller.From(context.User);
        var own = new Acting(caller.Id, caller.Name, EntityRole.Admin);
        if (caller.Account is { } account)
        {
            // A service account acts in its one team, with the role it was created with; any other entity it cannot see.
            return named is null || named == account.Team
                ? new Acting(account.TeamId, account.Team, account.Role)
                : throw new EntityNotFoundException(named);
        }

        if (caller.RunScope is { } run)
        {
            // A launched job's key acts on its run's entity only; whoever launched it chose that.
            return named is null || named == caller.Name
                ? own with { Role = EntityRole.Member }
                : throw new ForbiddenException($"a run's key acts on its run's entity '{caller.Name}' only, not '{named}': this key belongs to launched run {run}");
        }

        var target = named ?? caller.DefaultEntity ?? caller.Name;
        if (target == caller.Name)
        {
            return own;
        }

        var access = await context.RequestServices.GetRequiredService<EntityAccessCache>().FindAsync(target, caller.Id, context.RequestAborted);
        var role = access is null ? EntityRole.None : caller.Admin ? EntityRole.Admin : access.Role;
        if (role == EntityRole.None)
        {
            // A default entity the user has since left falls back to the user, rather than locking them out of their own.
            return named is null ? own : throw new EntityNotFoundException(target);
        }

        return new Acting(access!.EntityId, access.Entity, role);
    }
}

/// <summary>
/// Roles looked up in the last <see cref="ApiKeyCache.Lifetime"/>, so that an agent acting on a team reads its role
/// once a second rather than once a request. A membership change through this server forgets every entry at once; one
/// through another replica holds here within the lifetime.
/// </summary>
internal sealed class EntityAccessCache(IIdentityStore identities, TimeProvider time)
{
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<(string Entity, long UserId), (EntityAccess? Access, long At)> _known = new();

    public async Task<EntityAccess?> FindAsync(string entity, long userId, CancellationToken cancellationToken)
    {
        if (_known.TryGetValue((entity, userId), out var entry) && time.GetElapsedTime(entry.At) < ApiKeyCache.Lifetime)
        {
            return entry.Access;
        }

        var access = await identities.FindAccessAsync(entity, userId, cancellationToken);
        if (_known.Count >= MaxEntries)
        {
            _known.Clear();
        }

        _known[(entity, userId)] = (access, time.GetTimestamp());
        return access;
    }

    public void Forget() => _known.Clear();
}
