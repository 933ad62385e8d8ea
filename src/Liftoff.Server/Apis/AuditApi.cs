using System.Globalization;
using Liftoff.Contracts;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>
/// The audit log, read: an entity's admins read its entries (a user is the admin of their own); the server admin, naming
/// no entity, reads every entry, the server-wide ones (failed sign-ins, new users) included.
/// </summary>
internal static class AuditApi
{
    public const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/audit").RequireAuthorization().WithTags("Audit").MapGet("/", ListAudit).Needs(EntityRole.Admin);
        return app;
    }

    public static async Task<Results<Ok<AuditList>, ValidationProblem>> ListAudit(
        string? actor, string? action, string? @object, string? since, string? until, int? limit, string? cursor,
        HttpContext http, IAuditStore audit, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        var from = Time(since, "since", errors);
        var to = Time(until, "until", errors);
        errors.Check(limit is null or >= 1 and <= MaxLimit, "limit", $"limit is 1 to {MaxLimit}");
        long? before = null;
        if (cursor is not null)
        {
            errors.Check(long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id), "cursor", "cursor is the next_cursor of a previous page");
            before = id;
        }

        if (errors.Any)
        {
            return errors.Result;
        }

        var acting = Acting.Of(http);
        var everything = Caller.From(http.User).Admin && http.Request.Query[EntityAccessRule.Parameter].Count == 0;
        var page = limit ?? 100;
        var records = await audit.ListAuditAsync(new AuditQuery(
            everything ? null : acting.EntityId, Empty(actor), Empty(action), Empty(@object), from, to, before, page), cancellationToken);
        return TypedResults.Ok(new AuditList(
            [.. records.Select(r => new AuditEntryInfo(r.Id, r.Entry.At, r.Entry.Entity, r.Entry.Actor, r.Entry.ActorKind, r.Entry.Address, r.Entry.Action,
                r.Entry.Object, r.Entry.Outcome, r.Entry.Status, r.Entry.Detail is { } detail ? Mapping.Json(detail) : null))],
            records.Count == page ? records[^1].Id.ToString(CultureInfo.InvariantCulture) : null));
    }

    private static string? Empty(string? filter) => filter is { Length: > 0 } ? filter : null;

    /// <summary>An ISO 8601 time (the CLI turns <c>--since 24h</c> into one).</summary>
    private static DateTimeOffset? Time(string? text, string field, Validation errors)
    {
        if (text is not { Length: > 0 })
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return time;
        }

        errors.Add(field, $"{field} is an ISO 8601 time such as 2026-12-01T09:00:00Z");
        return null;
    }
}
