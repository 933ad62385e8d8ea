using System.Text.Json.Nodes;
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
        items.MapPost("/{id}/move", MoveItem).Audited("item.move", "{id}");
        items.MapPost("/{id}/heartbeat", Heartbeat).AgentKey(AgentKeyAccess.Item);
        items.MapPost("/{id}/progress", Report).AgentKey(AgentKeyAccess.Item);
        items.MapPost("/{id}/release", Release).AgentKey(AgentKeyAccess.Item);
        return app;
    }

    public static async Task<Results<Ok<ItemInfo>, ProblemHttpResult>> GetItem(string id, [AsParameters] ItemServices services, CancellationToken cancellationToken) =>
        await services.Queues.GetItemAsync(services.Acting.EntityId, id, cancellationToken) is { } item
            ? TypedResults.Ok(await WithPlaceAsync(item, services, cancellationToken))
            : ItemNotFound(id);

    /// <summary>
    /// Moves a pending item in line, to another priority or to another queue of the same resource: members their own
    /// items, admins anyone's (<see cref="Acting.DemandOwnOrAdmin"/>). A claim that took the item first makes it a 409
    /// naming the state it is in now.
    /// </summary>
    public static async Task<Results<Ok<ItemInfo>, ValidationProblem, ProblemHttpResult>> MoveItem(string id, MoveItemRequest request, [AsParameters] ItemServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        var places = (request.To is null ? 0 : 1) + (request.Before is null ? 0 : 1) + (request.After is null ? 0 : 1);
        errors.Check(places <= 1, "to", "a move names one place: to (top or bottom), before or after");
        errors.Check(request.To is null or MoveTargets.Top or MoveTargets.Bottom, "to", "to is top or bottom");
        errors.Check(request.Priority is null || Priorities.All.Contains(request.Priority), "priority", $"priority is one of {string.Join(", ", Priorities.All)}");
        errors.Check(request.Priority is null || (request.Before is null && request.After is null), "priority",
            "an item moved before or after another takes that item's priority: leave priority out");
        errors.Check(places > 0 || request.Priority is not null || request.Queue is not null, "to", "say where the item moves: to, before, after, priority or queue");
        if (errors.Any)
        {
            return errors.Result;
        }

        var (acting, caller) = (services.Acting, services.Caller);
        if (await services.Queues.GetItemAsync(acting.EntityId, id, cancellationToken) is not { } current)
        {
            return ItemNotFound(id);
        }

        QueueRecord? target = null;
        if (request.Queue is { } queueName)
        {
            var from = await services.Queues.GetQueueAsync(acting.EntityId, current.Queue, cancellationToken);
            target = await services.Queues.GetQueueAsync(acting.EntityId, queueName, cancellationToken);
            errors.Check(target is not null, "queue", $"queue '{queueName}' not found");
            errors.Check(target is null || from is null || target.Resource == from.Resource, "queue",
                $"queue '{queueName}' runs on {target?.Resource} and item {id}'s queue '{current.Queue}' on {from?.Resource}: an item moves only between queues of the same resource");
            if (errors.Any)
            {
                return errors.Result;
            }

            if (QueuesApi.NotAllowed(target!, acting, caller) is { } restricted)
            {
                return restricted;
            }
        }

        var move = new ItemMove(
            request.To switch { MoveTargets.Top => MovePlace.Top, MoveTargets.Bottom => MovePlace.Bottom, _ => request.Before is not null ? MovePlace.Before : request.After is not null ? MovePlace.After : MovePlace.Keep },
            Describe(request, caller.Name), request.Before ?? request.After,
            request.Priority is { } priority ? Priorities.All.ToList().IndexOf(priority) : null, target?.Id);
        AuditLog.Note(services.Http, detail: new JsonObject { ["to"] = request.To, ["before"] = request.Before, ["after"] = request.After, ["priority"] = request.Priority, ["queue"] = request.Queue });
        ItemRecord? moved;
        try
        {
            moved = await services.Queues.MoveItemAsync(acting.EntityId, id, move, i => acting.DemandOwnOrAdmin(i.SubmittedBy, caller.Name, "move"), services.Time.GetUtcNow(), cancellationToken);
        }
        catch (ItemConflictException conflict)
        {
            return Problems.Conflict(conflict.Message);
        }

        if (moved is null)
        {
            return ItemNotFound(id);
        }

        if (target is not null)
        {
            services.QueueSignals.Notify(target.Id);
        }

        return TypedResults.Ok(await WithPlaceAsync(moved, services, cancellationToken));
    }

    /// <summary>The move as the item's history tells it.</summary>
    private static string Describe(MoveItemRequest request, string by)
    {
        var parts = new List<string>();
        if (request.To is { } to)
        {
            parts.Add($"to the {to} of its priority");
        }

        if (request.Before is { } before)
        {
            parts.Add($"before item {before}");
        }

        if (request.After is { } after)
        {
            parts.Add($"after item {after}");
        }

        if (request.Priority is { } priority)
        {
            parts.Add($"to priority {priority}");
        }

        if (request.Queue is { } queue)
        {
            parts.Add($"to queue {queue}");
        }

        return $"moved {string.Join(", ", parts)} by {by}";
    }

    private static async Task<ItemInfo> WithPlaceAsync(ItemRecord item, ItemServices services, CancellationToken cancellationToken) =>
        item.State == ItemStates.Pending && await services.Queues.GetQueueAsync(services.Acting.EntityId, item.Queue, cancellationToken) is { } queue
            ? await QueuesApi.WithPlaceAsync(item, queue, services.Queues, services.Acting.EntityId, services.Time, services.Options, cancellationToken)
            : Mapping.ToInfo(item);

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
