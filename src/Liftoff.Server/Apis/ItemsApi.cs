using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Hosting;
using Liftoff.Server.Launch;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>Launch items: read and cancel (users), heartbeat, progress and release under the fencing token (agents).</summary>
internal static class ItemsApi
{
    private const int MaxMessage = 8192;

    public static IEndpointRouteBuilder MapItemsApi(this IEndpointRouteBuilder app)
    {
        var items = app.MapGroup("/api/v1/items").RequireAuthorization().WithTags("Items").Needs(EntityRole.Member);
        items.MapGet("/{id}", GetItem).Needs(EntityRole.Viewer);
        items.MapGet("/{id}/history", GetHistory).Needs(EntityRole.Viewer);
        items.MapPost("/{id}/cancel", CancelItem).Audited("item.cancel", "{id}");
        items.MapPost("/{id}/heartbeat", Heartbeat).AgentKey(AgentKeyAccess.Item);
        items.MapPost("/{id}/progress", Report).AgentKey(AgentKeyAccess.Item);
        items.MapPost("/{id}/release", Release).AgentKey(AgentKeyAccess.Item);
        return app;
    }

    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult>> GetItem(string id, [AsParameters] ItemServices services, CancellationToken cancellationToken) =>
        await services.Queues.GetItemAsync(services.Acting.EntityId, id, cancellationToken) is { } item
            ? TypedResults.Ok(Mapping.ToInfo(item))
            : ItemNotFound(id);

    public static async Task<Results<Ok<ItemHistory>, ProblemHttpResult>> GetHistory(string id, [AsParameters] ItemServices services, CancellationToken cancellationToken) =>
        await services.Queues.GetItemHistoryAsync(services.Acting.EntityId, id, cancellationToken) is { } events
            ? TypedResults.Ok(new ItemHistory(id, events))
            : ItemNotFound(id);

    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult>> CancelItem(string id, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        var (acting, caller) = (services.Acting, services.Caller);
        var item = await services.Queues.UpdateItemAsync(acting.EntityId, id, i =>
        {
            acting.DemandOwnOrAdmin(i.SubmittedBy, caller.Name, "cancel");
            return ItemLifecycle.Cancel(i, services.Time.GetUtcNow());
        }, cancellationToken);
        if (item?.RunId is { } runId)
        {
            services.RunSignals.Notify(runId);
        }

        return item is null ? ItemNotFound(id) : TypedResults.Ok(Mapping.ToInfo(item));
    }

    /// <summary>
    /// Renews the lease; the agent's waiting reason rides along. Only an agent's key reaches this (a run's key may not:
    /// launched code must not tell users why it waits), and the reason is one short line.
    /// </summary>
    public static async Task<Results<Ok<ItemHeartbeatReply>, ProblemHttpResult, ValidationProblem>> Heartbeat(string id, ItemHeartbeatRequest request, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        if (request.WaitingReason is { } reason && (reason.Length > ItemLifecycle.MaxWaitingReasonChars || reason.Any(char.IsControl)))
        {
            return new Validation().Add("waiting_reason", $"a waiting reason is one line of at most {ItemLifecycle.MaxWaitingReasonChars} characters").Result;
        }

        var leaseUntil = services.Time.GetUtcNow() + services.Options.ItemLease;
        var waiting = string.IsNullOrWhiteSpace(request.WaitingReason) ? null : request.WaitingReason.Trim();
        var item = await services.Queues.UpdateItemAsync(services.Acting.EntityId, id, i => ItemLifecycle.Renew(i, request.Attempt, leaseUntil, waiting), cancellationToken);
        return item is null ? ItemNotFound(id) : TypedResults.Ok(new ItemHeartbeatReply(item.State, item.CancelRequested, item.LeaseExpiresAt!.Value));
    }

    /// <summary>
    /// The agent's report. A failure's class is the agent's word (a run's own key cannot reach this endpoint, so a
    /// launched job cannot class its own failures to earn retries); a retried item waits out its backoff before the
    /// next claim.
    /// </summary>
    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult, ValidationProblem>> Report(string id, ItemProgressRequest request, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        if (request.FailureClass is { } failureClass && !FailureClasses.All.Contains(failureClass))
        {
            return new Validation().Add("failure_class", $"'{failureClass}' is not a failure class: {string.Join(", ", FailureClasses.All)}").Result;
        }

        var now = services.Time.GetUtcNow();
        // The end of a long message (a build log's last lines) is the part that says what went wrong.
        var message = request.Message is { Length: > MaxMessage } text ? text[^MaxMessage..] : request.Message;
        var item = await services.Queues.UpdateItemAsync(services.Acting.EntityId, id,
            i => ItemLifecycle.Report(i, request.Attempt, request.State, request.Phase, message, now, now + services.Options.ItemLease,
                request.FailureClass, request.ExitCode, Random.Shared.NextDouble()), cancellationToken);
        if (item?.RunId is { } runId)
        {
            services.RunSignals.Notify(runId);
        }

        return item is null ? ItemNotFound(id) : TypedResults.Ok(Mapping.ToInfo(item));
    }

    /// <summary>
    /// An agent that stops gracefully hands the item back once it stopped the workload: pending again, no attempt
    /// counted; the run ends killed and its console's last line says why.
    /// </summary>
    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult, ValidationProblem>> Release(string id, ItemReleaseRequest request, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        if (request.RunId is not { Length: > 0 } runId)
        {
            return new Validation().Add("run_id", "run_id is the run of the attempt handed back").Result;
        }

        var now = services.Time.GetUtcNow();
        var released = false;
        var item = await services.Queues.UpdateItemAsync(services.Acting.EntityId, id, i =>
        {
            var next = ItemLifecycle.Release(i, request.Attempt, runId, now);
            released = ItemLifecycle.IsRelease(i, next);
            return next;
        }, cancellationToken);
        if (item is null)
        {
            return ItemNotFound(id);
        }

        if (released)
        {
            await SayWhyAsync(runId, services, now, cancellationToken);
            if (await services.Queues.GetQueueAsync(services.Acting.EntityId, item.Queue, cancellationToken) is { } queue)
            {
                services.QueueSignals.Notify(queue.Id);
            }
        }

        services.RunSignals.Notify(runId);
        return TypedResults.Ok(Mapping.ToInfo(item));
    }

    /// <summary>The run has no field for why it ended; its console, where a user looks, carries the reason.</summary>
    private static async Task SayWhyAsync(string runId, ItemServices services, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await services.Runs.GetRunAsync(services.Acting.EntityId, runId, cancellationToken) is { } run)
        {
            await services.Runs.AppendLogsAsync(services.Acting.EntityId, runId, run.LogLines,
                [new StoredLogLine(run.LogLines, "stderr", $"[liftoff] {ItemLifecycle.ReleasedReason}", now.ToUnixTimeMilliseconds() / 1000.0)], r => r, cancellationToken);
        }
    }

    private static ProblemHttpResult ItemNotFound(string id) => Problems.NotFound($"launch item '{id}' not found");
}

internal sealed class ItemServices
{
    public required IQueueStore Queues { get; init; }

    public required RunSignals RunSignals { get; init; }

    public required IRunStore Runs { get; init; }

    public required QueueSignals QueueSignals { get; init; }

    public required ServerOptions Options { get; init; }

    public required TimeProvider Time { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);

    public Acting Acting => Acting.Of(Http);
}
