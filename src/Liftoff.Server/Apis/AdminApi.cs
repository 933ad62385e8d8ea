using Liftoff.Contracts;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Backups;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>
/// The server admin's view of the whole server: a backup streamed from the running server (so it works from any
/// machine with the admin's key, and from any replica on PostgreSQL) and the bytes each project stores.
/// </summary>
internal static class AdminApi
{
    public const string TarContentType = "application/x-tar";

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/admin").RequireAuthorization().WithTags("Admin").CallersOwn();
        api.MapPost("/backup", Backup).Audited("server.backup");
        api.MapGet("/usage", GetUsage);
        return app;
    }

    /// <summary>A tar of the manifest, the store's snapshot and the blobs it references; see docs/backup.md.</summary>
    public static async Task<IResult> Backup(HttpContext http, BackupWriter backups, CancellationToken cancellationToken)
    {
        if (!Caller.From(http.User).Admin)
        {
            return Problems.Forbidden("only the server admin may back up the server");
        }

        BackupWriter.Snapshot snapshot;
        try
        {
            snapshot = await backups.SnapshotAsync(cancellationToken);
        }
        catch (BackupException ex)
        {
            return Problems.Conflict(ex.Message);
        }

        using (snapshot)
        {
            http.Response.ContentType = TarContentType;
            await backups.WriteAsync(snapshot, http.Response.Body, cancellationToken);
        }

        return Results.Empty;
    }

    public static async Task<Results<Ok<UsageReport>, ProblemHttpResult>> GetUsage(HttpContext http, IAdminStore store, CancellationToken cancellationToken) =>
        Caller.From(http.User).Admin
            ? TypedResults.Ok(await store.ReadUsageAsync(cancellationToken))
            : Problems.Forbidden("only the server admin may read the server's usage");
}
