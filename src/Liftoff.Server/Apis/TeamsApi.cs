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
/// Teams and their members. The server admin creates teams; a team's admins manage its members; its viewers and up
/// see who is in it. The caller's default entity (where requests naming none act) is set here too.
/// </summary>
internal static class TeamsApi
{
    public static IEndpointRouteBuilder MapTeamsApi(this IEndpointRouteBuilder app)
    {
        var teams = app.MapGroup("/api/v1/teams").RequireAuthorization().WithTags("Teams");
        teams.MapPost("/", CreateTeam).CallersOwn().Audited("team.create");
        teams.MapGet("/", ListTeams).CallersOwn();
        teams.MapGet("/{name}", GetTeam).Needs(EntityRole.Viewer, routeParameter: "name");
        teams.MapPut("/{name}/members/{user}", SetMember).Needs(EntityRole.Admin, routeParameter: "name").Audited("member.set", "{user}");
        teams.MapDelete("/{name}/members/{user}", RemoveMember).Needs(EntityRole.Admin, routeParameter: "name").Audited("member.remove", "{user}");
        app.MapGroup("/api/v1/viewer").RequireAuthorization().WithTags("Identity").MapPut("/default-entity", SetDefaultEntity).CallersOwn().Audited("viewer.default-entity");
        return app;
    }

    public static async Task<Results<Created<TeamInfo>, ProblemHttpResult, ValidationProblem>> CreateTeam(
        CreateTeamRequest request, HttpContext http, IIdentityStore identities, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Caller.From(http.User).Admin)
        {
            return Problems.Forbidden("only the server admin creates teams");
        }

        var errors = new Validation();
        errors.Check(Names.IsValid(request.Name), "name", $"a team name is {Names.Rule}");
        errors.Check(request.Admin is not null, "admin", "admin is the user who will be the team's first admin");
        if (errors.Any)
        {
            return errors.Result;
        }

        var (admin, problem) = await FindUserAsync(identities, request.Admin!, "admin", cancellationToken);
        if (admin is null)
        {
            return problem!;
        }

        AuditLog.Note(http, request.Name, new JsonObject { ["admin"] = admin.Name });
        var team = await identities.CreateTeamAsync(request.Name!, admin.Id, time.GetUtcNow(), cancellationToken);
        return TypedResults.Created($"/api/v1/teams/{team.Name}", await InfoAsync(identities, team, cancellationToken));
    }

    public static async Task<Ok<TeamList>> ListTeams(HttpContext http, IIdentityStore identities, CancellationToken cancellationToken)
    {
        var caller = Caller.From(http.User);
        var teams = await identities.ListTeamsAsync(caller.Id, all: caller.Admin, cancellationToken);
        return TypedResults.Ok(new TeamList([.. teams.Select(t => new TeamSummary(t.Name, t.Role is { } role ? EntityRoles.Name(role) : null, t.CreatedAt))]));
    }

    public static async Task<Results<Ok<TeamInfo>, ProblemHttpResult>> GetTeam(string name, HttpContext http, IIdentityStore identities, CancellationToken cancellationToken) =>
        await FindTeamAsync(identities, Acting.Of(http), cancellationToken) is { } team
            ? TypedResults.Ok(await InfoAsync(identities, team, cancellationToken))
            : TeamNotFound(name);

    public static async Task<Results<Ok<TeamMember>, ProblemHttpResult, ValidationProblem>> SetMember(
        string name, string user, SetMemberRequest request, HttpContext http, IIdentityStore identities, EntityAccessCache roles, TimeProvider time, CancellationToken cancellationToken)
    {
        if (EntityRoles.Parse(request.Role) is not { } role)
        {
            return new Validation().Add("role", $"role is one of {string.Join(", ", EntityRoles.Names)}").Result;
        }

        if (await FindTeamAsync(identities, Acting.Of(http), cancellationToken) is not { } team)
        {
            return TeamNotFound(name);
        }

        var (member, problem) = await FindUserAsync(identities, user, "user", cancellationToken);
        if (member is null)
        {
            return problem!;
        }

        var previous = (await identities.ListMembersAsync(team.Id, cancellationToken)).FirstOrDefault(m => m.UserId == member.Id);
        AuditLog.Note(http, detail: new JsonObject { ["role"] = EntityRoles.Name(role), ["previous"] = previous is null ? null : EntityRoles.Name(previous.Role) });
        var stored = await identities.SetMemberAsync(team.Id, member.Id, role, time.GetUtcNow(), cancellationToken);
        roles.Forget();
        return TypedResults.Ok(ToMember(stored));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RemoveMember(
        string name, string user, HttpContext http, IIdentityStore identities, EntityAccessCache roles, CancellationToken cancellationToken)
    {
        if (await FindTeamAsync(identities, Acting.Of(http), cancellationToken) is not { } team)
        {
            return TeamNotFound(name);
        }

        var member = await identities.FindEntityAsync(user, cancellationToken);
        if (member is null || !await identities.RemoveMemberAsync(team.Id, member.Id, cancellationToken))
        {
            return Problems.NotFound($"'{user}' is not a member of team '{team.Name}'");
        }

        roles.Forget();
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<Viewer>, ProblemHttpResult>> SetDefaultEntity(
        SetDefaultEntityRequest request, HttpContext http, IIdentityStore identities, ApiKeyCache verified, CancellationToken cancellationToken)
    {
        var caller = Caller.From(http.User);
        long? entityId = null;
        if (request.Entity is { } entity && entity != caller.Name)
        {
            var access = await identities.FindAccessAsync(entity, caller.Id, cancellationToken);
            if (access is null || (access.Role == EntityRole.None && !caller.Admin))
            {
                throw new EntityNotFoundException(entity);
            }

            entityId = access.EntityId;
        }

        AuditLog.Note(http, request.Entity);
        await identities.SetDefaultEntityAsync(caller.Id, entityId, cancellationToken);
        verified.Forget(caller.Id);
        return TypedResults.Ok(new Viewer(caller.Name, caller.KeyId, caller.Admin, entityId is null ? null : request.Entity));
    }

    /// <summary>The acting entity when it is a team; a user's name in a team's place is no team.</summary>
    private static async Task<EntityRecord?> FindTeamAsync(IIdentityStore identities, Acting acting, CancellationToken cancellationToken) =>
        await identities.FindEntityAsync(acting.Entity, cancellationToken) is { Kind: EntityKinds.Team } team ? team : null;

    private static async Task<(EntityRecord? User, ProblemHttpResult? Problem)> FindUserAsync(IIdentityStore identities, string name, string field, CancellationToken cancellationToken) =>
        await identities.FindEntityAsync(name, cancellationToken) is { Kind: EntityKinds.User } user
            ? (user, null)
            : (null, Problems.NotFound($"{field}: there is no user '{name}'"));

    private static async Task<TeamInfo> InfoAsync(IIdentityStore identities, EntityRecord team, CancellationToken cancellationToken) =>
        new(team.Name, team.CreatedAt, [.. (await identities.ListMembersAsync(team.Id, cancellationToken)).Select(ToMember)]);

    private static TeamMember ToMember(MemberRecord m) => new(m.User, EntityRoles.Name(m.Role), m.CreatedAt);

    private static ProblemHttpResult TeamNotFound(string name) => Problems.NotFound($"team '{name}' not found");
}
