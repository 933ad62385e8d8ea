using Liftoff.Server.Apis;
using Liftoff.Server.Auth;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Wandb;

/// <summary>
/// The wandb clients' wire protocol (shared/reference/wandb-wire-protocol.md): an unmodified wandb script run with
/// <c>WANDB_BASE_URL</c> set to this server and <c>WANDB_API_KEY</c> set to a Liftoff key reports into a Liftoff run.
/// Everything else a wandb client may call answers 404, as the clients expect of what a server lacks.
/// </summary>
internal static class WandbApi
{
    public static IEndpointRouteBuilder MapWandbApi(this IEndpointRouteBuilder app)
    {
        var wandb = app.MapGroup("")
            .RequireAuthorization(policy => policy.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.BasicSchemeName).RequireAuthenticatedUser())
            .ExcludeFromDescription()
            .Needs(EntityRole.Member);
        // The resolvers keep a run's key to its own run (WandbRuns).
        wandb.MapPost("/graphql", WandbGraphqlApi.Execute).RunKey(RunKeyAccess.Checked);
        // The stream acts on the entity its path names (the one upsertBucket answered), by the rule every request follows.
        wandb.MapPost("/files/{entity}/{project}/{run}/file_stream", WandbFileStreamApi.Stream).RunKey(RunKeyAccess.OwnRun, "run").TakesConsoleText()
            .Needs(EntityRole.Member, routeParameter: "entity");
        return app;
    }
}

internal sealed class WandbServices
{
    public required IRunStore Store { get; init; }

    public required IIdentityStore Identities { get; init; }

    public required RunSignals Signals { get; init; }

    public required TimeProvider Time { get; init; }

    public required HttpContext Http { get; init; }

    public required ILogger<WandbServices> Logger { get; init; }

    public Caller Caller => Caller.From(Http.User);

    public Acting Acting => Acting.Of(Http);

    /// <summary>
    /// The entity a GraphQL operation names (<c>entityName</c>, from the client's <c>entity=</c> or <c>WANDB_ENTITY</c>),
    /// by the rule every request follows: the request's own when it names none or that one; an entity the caller may
    /// not see is 404, one where their role is below <paramref name="role"/> 403 (answered with that status, which
    /// the clients report as their own error).
    /// </summary>
    public async Task<Acting> ActOnAsync(string? entity, EntityRole role, string what)
    {
        if (string.IsNullOrEmpty(entity) || entity == Acting.Entity)
        {
            return Acting;
        }

        var acting = await EntityAccessRule.ActOnAsync(Http, entity);
        acting.Demand(role, what);
        return acting;
    }

    /// <summary>The named entity for a read, or null (what the clients take as "not found") for one the caller may not see.</summary>
    public async Task<Acting?> SeeAsync(string? entity)
    {
        try
        {
            return await ActOnAsync(entity, EntityRole.Viewer, "reading a wandb project");
        }
        catch (EntityNotFoundException)
        {
            return null;
        }
    }
}
