using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Server.Auth;
using Liftoff.Server.Hosting;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>Launch items: read and cancel (users), heartbeat and progress under the fencing token (agents).</summary>
internal static class ItemsApi
{
    private const int MaxMessage = 8192;

    public static IEndpointRouteBuilder MapItemsApi(this IEndpointRouteBuilder app)
    {
        var items = app.MapGroup("/api/v1/items").RequireAuthorization(Caller.FullKeyPolicy).WithTags("Items");
        items.MapGet("/{id}", GetItem);
        items.MapPost("/{id}/cancel", CancelItem);
        items.MapPost("/{id}/heartbeat", Heartbeat);
        items.MapPost("/{id}/progress", Report);
        return app;
    }

    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult>> GetItem(string id, [AsParameters] ItemServices services, CancellationToken cancellationToken) =>
        await services.Queues.GetItemAsync(services.Caller.EntityId, id, cancellationToken) is { } item
            ? TypedResults.Ok(Mapping.ToInfo(item))
            : ItemNotFound(id);

    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult>> CancelItem(string id, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        var item = await services.Queues.UpdateItemAsync(services.Caller.EntityId, id, i => ItemLifecycle.Cancel(i, services.Time.GetUtcNow()), cancellationToken);
        if (item?.RunId is { } runId)
        {
            services.RunSignals.Notify(runId);
        }

        return item is null ? ItemNotFound(id) : TypedResults.Ok(Mapping.ToInfo(item));
    }

    public static async Task<Results<Ok<ItemHeartbeatReply>, ProblemHttpResult>> Heartbeat(string id, ItemHeartbeatRequest request, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        var leaseUntil = services.Time.GetUtcNow() + services.Options.ItemLease;
        var item = await services.Queues.UpdateItemAsync(services.Caller.EntityId, id, i => ItemLifecycle.Renew(i, request.Attempt, leaseUntil), cancellationToken);
        return item is null ? ItemNotFound(id) : TypedResults.Ok(new ItemHeartbeatReply(item.State, item.CancelRequested, item.LeaseExpiresAt!.Value));
    }

    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult>> Report(string id, ItemProgressRequest request, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        // The end of a long message (a build log's last lines) is the part that says what went wrong.
        var message = request.Message is { Length: > MaxMessage } text ? text[^MaxMessage..] : request.Message;
        var item = await services.Queues.UpdateItemAsync(services.Caller.EntityId, id,
            i => ItemLifecycle.Report(i, request.Attempt, request.State, request.Phase, message, now, now + services.Options.ItemLease), cancellationToken);
        if (item?.RunId is { } runId)
        {
            services.RunSignals.Notify(runId);
        }

        return item is null ? ItemNotFound(id) : TypedResults.Ok(Mapping.ToInfo(item));
    }

    private static ProblemHttpResult ItemNotFound(string id) => Problems.NotFound($"launch item '{id}' not found");
}

internal sealed class ItemServices
{
    public required IQueueStore Queues { get; init; }

    public required RunSignals RunSignals { get; init; }

    public required ServerOptions Options { get; init; }

    public required TimeProvider Time { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);
}
