using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>
/// A team's service accounts (non-human identities for agents and CI) and their keys, managed by the team's admins (and
/// the server admin). An account acts in its team only, with the role it was created with.
/// </summary>
internal static class ServiceAccountsApi
{
    public static IEndpointRouteBuilder MapServiceAccountsApi(this IEndpointRouteBuilder app)
    {
        var accounts = app.MapGroup("/api/v1/teams/{team}/service-accounts").RequireAuthorization().WithTags("Teams").Needs(EntityRole.Admin, routeParameter: "team");
        accounts.MapPost("/", CreateAccount).Audited("service-account.create");
        accounts.MapGet("/", ListAccounts);
        accounts.MapDelete("/{account}", DeleteAccount).Audited("service-account.delete", "{account}");
        accounts.MapPost("/{account}/keys", CreateKey).Audited("service-account.key.create");
        accounts.MapGet("/{account}/keys", ListKeys);
        accounts.MapDelete("/{account}/keys/{id}", RevokeKey).Audited("service-account.key.revoke", "{account}/{id}");
        return app;
    }

    public static async Task<Results<Created<ServiceAccountInfo>, ValidationProblem, ProblemHttpResult>> CreateAccount(
        string team, CreateServiceAccountRequest request, HttpContext http, IIdentityStore identities, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(Names.IsValid(request.Name), "name", $"a service account name is {Names.Rule}");
        var role = request.Role is null ? EntityRole.Member : EntityRoles.Parse(request.Role);
        errors.Check(role is not null, "role", $"role is one of {string.Join(", ", EntityRoles.Names)} (default member)");
        if (errors.Any)
        {
            return errors.Result;
        }

        if (await FindTeamAsync(identities, Acting.Of(http), cancellationToken) is not { } owner)
        {
            return TeamNotFound(team);
        }

        AuditLog.Note(http, request.Name, new JsonObject { ["role"] = EntityRoles.Name(role!.Value) });
        var account = await identities.CreateServiceAccountAsync(owner.Id, request.Name!, role.Value, time.GetUtcNow(), cancellationToken);
        return TypedResults.Created($"/api/v1/teams/{owner.Name}/service-accounts/{account.Name}", ToInfo(account));
    }

    public static async Task<Results<Ok<ServiceAccountList>, ProblemHttpResult>> ListAccounts(string team, HttpContext http, IIdentityStore identities, CancellationToken cancellationToken) =>
        await FindTeamAsync(identities, Acting.Of(http), cancellationToken) is { } owner
            ? TypedResults.Ok(new ServiceAccountList([.. (await identities.ListServiceAccountsAsync(owner.Id, cancellationToken)).Select(ToInfo)]))
            : TeamNotFound(team);

    /// <summary>Deletes the account and revokes its keys at once (on this replica; on another within <see cref="ApiKeyCache.Lifetime"/>).</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAccount(
        string team, string account, HttpContext http, IIdentityStore identities, ApiKeyCache verified, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await FindTeamAsync(identities, Acting.Of(http), cancellationToken) is not { } owner)
        {
            return TeamNotFound(team);
        }

        if (await identities.DeleteServiceAccountAsync(owner.Id, account, time.GetUtcNow(), cancellationToken) is not { } deleted)
        {
            return AccountNotFound(owner.Name, account);
        }

        verified.Forget(deleted.EntityId);
        return TypedResults.NoContent();
    }

    public static async Task<Results<Created<CreatedKey>, ValidationProblem, ProblemHttpResult>> CreateKey(
        string team, string account, CreateKeyRequest request, HttpContext http, IIdentityStore identities, TimeProvider time, CancellationToken cancellationToken)
    {
        if (IdentityApi.Check(request) is { Any: true } errors)
        {
            return errors.Result;
        }

        var (holder, problem) = await FindAccountAsync(identities, http, team, account, cancellationToken);
        if (holder is null)
        {
            return problem!;
        }

        var (key, secret) = IdentityApi.NewKey(http, request, time, holder.Name);
        await identities.AddKeyAsync(holder.EntityId, key, cancellationToken);
        return TypedResults.Created($"/api/v1/teams/{holder.Team}/service-accounts/{holder.Name}/keys/{key.Id}", new CreatedKey(key.Id, key.Name, secret, key.CreatedAt, key.AgentQueues));
    }

    public static async Task<Results<Ok<ApiKeyList>, ProblemHttpResult>> ListKeys(
        string team, string account, HttpContext http, IIdentityStore identities, CancellationToken cancellationToken)
    {
        var (holder, problem) = await FindAccountAsync(identities, http, team, account, cancellationToken);
        return holder is null ? problem! : TypedResults.Ok(await IdentityApi.ListKeysAsync(identities, holder.EntityId, cancellationToken));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        string team, string account, string id, HttpContext http, IIdentityStore identities, ApiKeyCache verified, TimeProvider time, CancellationToken cancellationToken)
    {
        var (holder, problem) = await FindAccountAsync(identities, http, team, account, cancellationToken);
        if (holder is null)
        {
            return problem!;
        }

        if (!await identities.RevokeKeyAsync(holder.EntityId, id, time.GetUtcNow(), cancellationToken))
        {
            return Problems.NotFound($"service account '{holder.Name}' of team '{holder.Team}' has no key '{id}'");
        }

        verified.Forget(holder.EntityId, id);
        return TypedResults.NoContent();
    }

    private static async Task<(ServiceAccountRecord? Account, ProblemHttpResult? Problem)> FindAccountAsync(
        IIdentityStore identities, HttpContext http, string team, string account, CancellationToken cancellationToken)
    {
        if (await FindTeamAsync(identities, Acting.Of(http), cancellationToken) is not { } owner)
        {
            return (null, TeamNotFound(team));
        }

        return await identities.FindServiceAccountAsync(owner.Id, account, cancellationToken) is { } found
            ? (found, null)
            : (null, AccountNotFound(owner.Name, account));
    }

    /// <summary>The acting entity when it is a team: a user has no service accounts.</summary>
    private static async Task<EntityRecord?> FindTeamAsync(IIdentityStore identities, Acting acting, CancellationToken cancellationToken) =>
        await identities.FindEntityAsync(acting.Entity, cancellationToken) is { Kind: EntityKinds.Team } team ? team : null;

    private static ServiceAccountInfo ToInfo(ServiceAccountRecord a) => new(a.Name, a.Team, EntityRoles.Name(a.Role), a.EntityName, a.CreatedAt);

    private static ProblemHttpResult TeamNotFound(string team) => Problems.NotFound($"team '{team}' not found; service accounts belong to teams");

    private static ProblemHttpResult AccountNotFound(string team, string account) =>
        Problems.NotFound($"team '{team}' has no service account '{account}'; see them with 'liftoff service-account list --team {team}'");
}
