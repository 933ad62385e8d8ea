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
        wandb.MapPost("/files/{entity}/{project}/{run}/file_stream", WandbFileStreamApi.Stream).RunKey(RunKeyAccess.OwnRun, "run").TakesConsoleText();
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
}
