using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Launch;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Hosting;
using Liftoff.Server.Launch;
using Liftoff.Server.Storage;
using Liftoff.Targets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>Queues and enqueueing (DESIGN.md §1, §3).</summary>
internal static class QueuesApi
{
    public const int DefaultMaxAttempts = 3;
    public const int DefaultStartTimeoutSeconds = 30 * 60;

    public static IEndpointRouteBuilder MapQueuesApi(this IEndpointRouteBuilder app)
    {
        var queues = app.MapGroup("/api/v1/queues").RequireAuthorization().WithTags("Queues").Needs(EntityRole.Viewer);
        queues.MapPost("/", CreateQueue).Needs(EntityRole.Admin).Audited("queue.create");
        queues.MapGet("/", ListQueues);
        queues.MapGet("/{name}", GetQueue).AgentKey(AgentKeyAccess.Queue);
        queues.MapPut("/{name}", EditQueue).Needs(EntityRole.Admin).Audited("queue.edit", "{name}");
        queues.MapDelete("/{name}", DeleteQueue).Needs(EntityRole.Admin).Audited("queue.delete", "{name}");
        queues.MapPost("/{name}/items", Enqueue).Needs(EntityRole.Member).Audited("item.enqueue", "{name}");
        queues.MapPost("/{name}/dry-run", DryRun).Needs(EntityRole.Member);
        queues.MapGet("/{name}/items", ListItems);
        return app;
    }

    public static async Task<Results<Created<QueueInfo>, ValidationProblem, ProblemHttpResult>> CreateQueue(
        CreateQueueRequest request, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        var errors = await CheckAsync(request, services, cancellationToken);
        if (errors.Any)
        {
            return errors.Result;
        }

        var record = Settings(request, services.Acting.Entity, services.Time.GetUtcNow());
        AuditLog.Note(services.Http, record.Name, new JsonObject { ["before"] = null, ["after"] = AuditedConfig(record) });
        var queue = await services.Queues.CreateQueueAsync(services.Acting.EntityId, record, cancellationToken);
        return TypedResults.Created($"/api/v1/queues/{queue.Name}", await DescribeAsync(queue, services, cancellationToken));
    }

    /// <summary>
    /// Replaces a queue's settings with the request's, checked as create checks them; its name and resource stay (its
    /// pending items were checked against that resource). Items claimed afterwards take the new settings.
    /// </summary>
    public static async Task<Results<Ok<QueueInfo>, ValidationProblem, ProblemHttpResult>> EditQueue(
        string name, CreateQueueRequest request, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        if (await services.Queues.GetQueueAsync(services.Acting.EntityId, name, cancellationToken) is not { } existing)
        {
            return QueueNotFound(name);
        }

        var errors = await CheckAsync(request, services, cancellationToken);
        errors.Check(request.Name == name, "name", $"a queue keeps its name: send name '{name}' (create a new queue for another name)");
        errors.Check(request.Resource == existing.Resource, "resource", $"queue '{name}' runs on {existing.Resource} and keeps it, since its items were checked against it; create a new queue for another resource");
        if (errors.Any)
        {
            return errors.Result;
        }

        var edited = await services.Queues.UpdateQueueAsync(services.Acting.EntityId, name, before =>
        {
            var after = Settings(request, before.Entity, before.CreatedAt);
            AuditLog.Note(services.Http, detail: new JsonObject { ["before"] = AuditedConfig(before), ["after"] = AuditedConfig(after) });
            return after;
        }, cancellationToken);
        return edited is null ? QueueNotFound(name) : TypedResults.Ok(await DescribeAsync(edited, services, cancellationToken));
    }

    /// <summary>What create and edit hold a queue's settings to: each error names its field.</summary>
    private static async Task<Validation> CheckAsync(CreateQueueRequest request, QueueServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(Names.IsValid(request.Name), "name", $"a queue name is {Names.Rule}");
        errors.Check(services.Targets.Find(request.Resource) is not null, "resource", services.Targets.NotATarget(request.Resource));
        errors.Check(request.Config is null || request.Config.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null, "config", "config must be a JSON object of the resource's default settings");
        errors.Check(request.MaxAttempts is null or >= 1 and <= 100, "max_attempts", "max_attempts is 1 to 100");
        errors.Check(request.StartTimeoutSeconds is null or >= 1, "start_timeout_seconds", "start_timeout_seconds is at least 1");
        errors.Check(request.MaxRunSeconds is null or >= 1 and <= Limits.MaxRunSeconds, "max_run_seconds", $"max_run_seconds is 1 to {Limits.MaxRunSeconds}");
        if (request.RetryPolicy is { } retryPolicy)
        {
            errors.AddRange(RetryPolicies.Validate(retryPolicy, "retry_policy"));
        }

        var variables = request.TemplateVariables ?? [];
        errors.AddRange(TemplateVariables.ValidateDeclarations(variables, "template_variables"));
        if (!errors.Any && request.Config is { ValueKind: JsonValueKind.Object } config)
        {
            var merged = ResourceConfigs.Merge(config, null);
            errors.AddRange(services.Targets.Validate(request.Resource, merged, "config", complete: false).Concat(Macros.FindUnknown(merged, variables.Select(v => v.Name).ToHashSet(StringComparer.Ordinal), "config")));
            errors.AddRange(LaunchPlanner.CheckSecretPlacement(services.Targets, request.Resource, SecretReferences.Find(merged, ""), "config"));
        }

        if (request.AllowedMembers is { } allowed)
        {
            errors.AddRange(await CheckAllowedMembersAsync(allowed, services, cancellationToken));
        }

        return errors;
    }

    /// <summary>A checked request's settings; what it leaves out takes the defaults.</summary>
    private static QueueRecord Settings(CreateQueueRequest request, string entity, DateTimeOffset createdAt) => new(
        0, entity, request.Name, request.Resource,
        request.Config is { ValueKind: JsonValueKind.Object } given ? given.GetRawText() : "{}", request.TemplateVariables ?? [],
        request.MaxAttempts ?? DefaultMaxAttempts, request.StartTimeoutSeconds ?? DefaultStartTimeoutSeconds, createdAt,
        request.AllowedMembers is { } members ? [.. members.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)] : null,
        RetryPolicies.Serialize(RetryPolicies.Over(RetryPolicies.Default, request.RetryPolicy)), request.MaxRunSeconds);

    public static async Task<Ok<QueueList>> ListQueues([AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        var queues = await services.Queues.ListQueuesAsync(services.Acting.EntityId, cancellationToken);
        var agents = await services.Queues.ListAgentsAsync(services.Acting.EntityId, cancellationToken);
        var infos = new List<QueueInfo>();
        foreach (var queue in queues)
        {
            infos.Add(await DescribeAsync(queue, services, cancellationToken, agents));
        }

        return TypedResults.Ok(new QueueList(infos));
    }

    public static async Task<Results<Ok<QueueInfo>, ProblemHttpResult>> GetQueue(string name, [AsParameters] QueueServices services, CancellationToken cancellationToken) =>
        await services.Queues.GetQueueAsync(services.Acting.EntityId, name, cancellationToken) is { } queue
            ? TypedResults.Ok(await DescribeAsync(queue, services, cancellationToken))
            : QueueNotFound(name);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteQueue(string name, bool? force, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        if (await services.Queues.GetQueueAsync(services.Acting.EntityId, name, cancellationToken) is { } existing)
        {
            AuditLog.Note(services.Http, detail: new JsonObject { ["before"] = AuditedConfig(existing), ["after"] = null });
        }

        try
        {
            return await services.Queues.DeleteQueueAsync(services.Acting.EntityId, name, force == true, services.Time.GetUtcNow(), cancellationToken)
                ? TypedResults.NoContent()
                : QueueNotFound(name);
        }
        catch (ItemConflictException conflict)
        {
            return Problems.Conflict(conflict.Message);
        }
    }

    public static async Task<Results<Created<ItemInfo>, Ok<ItemInfo>, ValidationProblem, ProblemHttpResult>> Enqueue(
        string name, EnqueueRequest request, HttpRequest http, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        if (http.Headers["Idempotency-Key"].ToString() is { Length: > 0 } headerKey && request.IdempotencyKey is null)
        {
            request = request with { IdempotencyKey = headerKey };
        }

        if (await services.Queues.GetQueueAsync(services.Acting.EntityId, name, cancellationToken) is not { } queue)
        {
            return QueueNotFound(name);
        }

        if (NotAllowed(queue, services) is { } restricted)
        {
            return restricted;
        }

        var (item, errors) = await services.Planner.PlanAsync(services.Acting, services.Caller, queue, request, services.Time.GetUtcNow(), cancellationToken);
        if (item is null)
        {
            return Refused(errors);
        }

        AuditLog.Note(services.Http, item.Id, new JsonObject { ["queue"] = queue.Name, ["project"] = item.Project, ["job"] = item.Job, ["priority"] = item.Priority });
        var (stored, created) = await services.Queues.EnqueueAsync(services.Acting.EntityId, queue.Id, item, cancellationToken);
        if (!created)
        {
            return LaunchPlanner.IsSameLaunch(stored, item)
                ? TypedResults.Ok(Mapping.ToInfo(stored))
                : Problems.Conflict($"idempotency_key: the key '{item.IdempotencyKey}' was used for a different launch (item {stored.Id}); a retry sends the same request, a new launch takes a new key");
        }

        services.Signals.Notify(queue.Id);
        return TypedResults.Created($"/api/v1/items/{stored.Id}", Mapping.ToInfo(stored));
    }

    public static async Task<Results<Ok<LaunchSpec>, ValidationProblem, ProblemHttpResult>> DryRun(
        string name, EnqueueRequest request, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        if (await services.Queues.GetQueueAsync(services.Acting.EntityId, name, cancellationToken) is not { } queue)
        {
            return QueueNotFound(name);
        }

        if (NotAllowed(queue, services) is { } restricted)
        {
            return restricted;
        }

        // The planned item is never stored, so its id names nothing: a placeholder, like the run's, instead of an id a user would look up.
        var (item, errors) = await services.Planner.PlanAsync(services.Acting, services.Caller, queue, request, services.Time.GetUtcNow(), cancellationToken);
        return item is null
            ? Refused(errors)
            : TypedResults.Ok(LaunchPlanner.Spec(item with { Id = "<item id, given at enqueue>" }, queue, "<run id, chosen at claim>", "<run name, chosen at claim>", "<run-scoped key, minted at claim>"));
    }

    public static async Task<Results<Ok<ItemList>, ValidationProblem, ProblemHttpResult>> ListItems(
        string name, string? state, int? limit, [AsParameters] QueueServices services, CancellationToken cancellationToken)
    {
        if (limit is not null and (< 1 or > 1000))
        {
            return new Validation().Add("limit", "limit is 1 to 1000").Result;
        }

        if (await services.Queues.GetQueueAsync(services.Acting.EntityId, name, cancellationToken) is not { } queue)
        {
            return QueueNotFound(name);
        }

        var items = await services.Queues.ListItemsAsync(queue.Id, state, limit ?? 100, cancellationToken);
        return TypedResults.Ok(new ItemList([.. items.Select(Mapping.ToInfo)], null));
    }

    /// <summary>A queue's settings as the audit log keeps them: environment values elided.</summary>
    private static JsonObject AuditedConfig(QueueRecord queue) => new()
    {
        ["resource"] = queue.Resource,
        ["config"] = AuditLog.Redact(JsonNode.Parse(queue.ConfigJson)),
        ["template_variables"] = queue.TemplateVariables.Count,
        ["max_attempts"] = queue.MaxAttempts,
        ["start_timeout_seconds"] = queue.StartTimeoutSeconds,
        ["allowed_members"] = queue.AllowedMembers is { } members ? new JsonArray([.. members.Select(m => JsonValue.Create(m))]) : null,
        ["retry_policy"] = queue.RetryPolicyJson is { } policy ? JsonNode.Parse(policy) : null,
        ["max_run_seconds"] = queue.MaxRunSeconds,
    };

    public static ProblemHttpResult QueueNotFound(string name) => Problems.NotFound($"queue '{name}' not found");

    /// <summary>
    /// A queue restricted to some members takes launches from those members and the entity's admins (who could lift the
    /// restriction anyway); everyone else with the member role gets a 403 that names the queue.
    /// </summary>
    private static ProblemHttpResult? NotAllowed(QueueRecord queue, QueueServices services) =>
        queue.AllowedMembers is { } allowed && services.Acting.Role < EntityRole.Admin && !allowed.Contains(services.Caller.Name, StringComparer.Ordinal)
            ? Problems.Forbidden($"queue '{queue.Name}' of '{queue.Entity}' is restricted to some members ({string.Join(", ", allowed)}) and its admins; "
                + $"'{services.Caller.Name}' is not one of them: ask an admin of '{queue.Entity}' to add you")
            : null;

    /// <summary>Only a team's queue is restricted, and only to users who are members of that team.</summary>
    private static async Task<IReadOnlyList<FieldError>> CheckAllowedMembersAsync(IReadOnlyList<string> allowed, QueueServices services, CancellationToken cancellationToken)
    {
        if (await services.Identities.FindEntityAsync(services.Acting.Entity, cancellationToken) is not { Kind: EntityKinds.Team } team)
        {
            return [new FieldError("allowed_members", $"only a team's queue is restricted to some members; '{services.Acting.Entity}' is a user (create the queue with --entity TEAM)")];
        }

        if (allowed.Count is 0 or > 1000)
        {
            return [new FieldError("allowed_members", "allowed_members lists 1 to 1000 members of the team (leave it out for every member)")];
        }

        var members = (await services.Identities.ListMembersAsync(team.Id, cancellationToken)).Select(m => m.User).ToHashSet(StringComparer.Ordinal);
        return [.. allowed.Select((name, i) => (name, i)).Where(m => !members.Contains(m.name))
            .Select(m => new FieldError($"allowed_members[{m.i}]", $"'{m.name}' is not a member of team '{team.Name}': add them with 'liftoff team add-member {team.Name} {m.name}' first"))];
    }

    private static ValidationProblem Refused(IReadOnlyList<FieldError> errors) => new Validation().AddRange(errors).Result;

    private static async Task<QueueInfo> DescribeAsync(QueueRecord queue, QueueServices services, CancellationToken cancellationToken, IReadOnlyList<AgentRecord>? agents = null)
    {
        var stats = await services.Queues.GetQueueStatsAsync(queue.Id, cancellationToken);
        agents ??= await services.Queues.ListAgentsAsync(services.Acting.EntityId, cancellationToken);
        var now = services.Time.GetUtcNow();
        return new QueueInfo(queue.Name, queue.Entity, queue.Resource, Mapping.Json(queue.ConfigJson), queue.TemplateVariables, queue.MaxAttempts,
            queue.StartTimeoutSeconds, queue.CreatedAt, stats.Counts.GetValueOrDefault(ItemStates.Pending), stats.Counts,
            stats.OldestPendingAt is { } oldest ? (now - oldest).TotalSeconds : null,
            [.. agents.Where(a => a.Queues.Contains(queue.Name) && a.State != AgentStates.Stopped).Select(a => Mapping.ToInfo(a, now, services.Options.ItemLease))],
            queue.AllowedMembers, RetryPolicies.Parse(queue.RetryPolicyJson), queue.MaxRunSeconds);
    }
}

internal sealed class QueueServices
{
    public required IQueueStore Queues { get; init; }

    public required LaunchPlanner Planner { get; init; }

    public required IIdentityStore Identities { get; init; }

    public required TargetCatalog Targets { get; init; }

    public required QueueSignals Signals { get; init; }

    public required TimeProvider Time { get; init; }

    public required ServerOptions Options { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);

    public Acting Acting => Acting.Of(Http);
}
