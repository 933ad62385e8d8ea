using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Launch;

namespace Liftoff.Server.Storage.Relational;

/// <summary>
/// Queues, items and agents. An item's life-cycle step is: read and lock its row, apply the pure change from
/// <see cref="ItemLifecycle"/>, then send <see cref="ItemUpdate"/> with the run side (<see cref="EndRunOfItem"/>) in one batch.
/// </summary>
internal sealed partial class RelationalStore : IQueueStore
{
    private const string QueueColumns = """
        q.id, e.name, q.name, q.resource, q.config, q.template_variables, q.max_attempts, q.start_timeout_seconds, q.created_at, q.allowed_members,
        q.retry_policy, q.max_run_seconds
        FROM queues q JOIN entities e ON e.id = q.entity_id
        """;

    /// <summary>The item columns <see cref="ItemRow"/> reads, for a FROM naming the item <c>i</c> and joined by <see cref="ItemJoins"/>.</summary>
    internal const string ItemSelect = """
        SELECT i.id, q.name, e.name, i.state, i.priority, i.attempt, i.max_attempts, i.job, i.job_definition, i.project, i.run_id,
        i.config, i.resource_args, i.template_values, i.entrypoint, i.phase, i.error, i.agent_id, i.idempotency_key,
        i.created_at, i.claimed_at, i.started_at, i.ended_at, i.lease_expires_at, i.cancel_requested, i.entity_id, i.queue_id, s.name, i.waiting_reason,
        i.failure_class, i.claimable_at, i.retries, i.retry_policy, i.max_run_seconds
        """;

    internal const string ItemJoins = "JOIN queues q ON q.id = i.queue_id JOIN entities e ON e.id = i.entity_id LEFT JOIN entities s ON s.id = i.submitted_by";

    private const string AgentColumns = """
        a.id, e.name, a.name, a.queues, a.version, a.host, a.max_jobs, a.state, a.running_items, a.registered_at, a.heartbeat_at, a.stop_requested
        FROM agents a JOIN entities e ON e.id = a.entity_id
        """;

    public Task<QueueRecord> CreateQueueAsync(long entityId, QueueRecord queue, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            var id = await session.ScalarAsync("""
                INSERT INTO queues (entity_id, name, resource, config, template_variables, max_attempts, start_timeout_seconds, created_at, allowed_members, retry_policy, max_run_seconds)
                VALUES (@e, @name, @resource, @config, @vars, @attempts, @timeout, @at, @allowed, @policy, @maxrun)
                ON CONFLICT (entity_id, name) DO NOTHING RETURNING id
                """, cancellationToken,
                ("@e", entityId), ("@name", queue.Name), ("@resource", queue.Resource), ("@config", queue.ConfigJson),
                ("@vars", JsonSerializer.Serialize(queue.TemplateVariables, LiftoffJsonContext.Default.IReadOnlyListTemplateVariable)),
                ("@attempts", queue.MaxAttempts), ("@timeout", queue.StartTimeoutSeconds), ("@at", queue.CreatedAt),
                ("@allowed", queue.AllowedMembers is { } allowed ? JsonSerializer.Serialize(allowed, LiftoffJsonContext.Default.IReadOnlyListString) : null),
                ("@policy", queue.RetryPolicyJson), ("@maxrun", queue.MaxRunSeconds)) as long?
                ?? throw new DuplicateException($"a queue named '{queue.Name}' exists");
            return queue with { Id = id };
        }, cancellationToken);

    public Task<QueueRecord?> GetQueueAsync(long entityId, string name, CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync($"SELECT {QueueColumns} WHERE q.entity_id = @e AND q.name = @name", QueueRow, cancellationToken, ("@e", entityId), ("@name", name)), cancellationToken);

    public Task<IReadOnlyList<QueueRecord>> ListQueuesAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<QueueRecord>>(async session => await session.ListAsync($"SELECT {QueueColumns} WHERE q.entity_id = @e ORDER BY q.name", QueueRow, cancellationToken, ("@e", entityId)), cancellationToken);

    public Task<QueueStats> GetQueueStatsAsync(long queueId, CancellationToken cancellationToken) =>
        database.ReadAsync(async session =>
        {
            var counts = await session.ListAsync("SELECT state, COUNT(*) FROM items WHERE queue_id = @q GROUP BY state", r => (r.String(0), r.Long(1)), cancellationToken, ("@q", queueId));
            var oldest = await session.ListAsync($"SELECT MIN(created_at) FROM items WHERE queue_id = @q AND state = '{ItemStates.Pending}'", r => r.NullableTime(0), cancellationToken, ("@q", queueId));
            return new QueueStats(counts.ToDictionary(c => c.Item1, c => c.Item2, StringComparer.Ordinal), oldest[0]);
        }, cancellationToken);

    public Task<QueueRecord?> UpdateQueueAsync(long entityId, string name, Func<QueueRecord, QueueRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await session.FirstAsync($"SELECT {QueueColumns} WHERE q.entity_id = @e AND q.name = @name{database.LockRows("q")}", QueueRow, cancellationToken, ("@e", entityId), ("@name", name)) is not { } queue)
            {
                return null;
            }

            var updated = change(queue) with { Id = queue.Id, Entity = queue.Entity, Name = queue.Name, Resource = queue.Resource, CreatedAt = queue.CreatedAt };
            await session.ExecuteAsync([new Sql("""
                UPDATE queues SET config = @config, template_variables = @vars, max_attempts = @attempts, start_timeout_seconds = @timeout,
                    allowed_members = @allowed, retry_policy = @policy, max_run_seconds = @maxrun
                WHERE id = @q
                """,
                ("@config", updated.ConfigJson), ("@vars", JsonSerializer.Serialize(updated.TemplateVariables, LiftoffJsonContext.Default.IReadOnlyListTemplateVariable)),
                ("@attempts", updated.MaxAttempts), ("@timeout", updated.StartTimeoutSeconds),
                ("@allowed", updated.AllowedMembers is { } allowed ? JsonSerializer.Serialize(allowed, LiftoffJsonContext.Default.IReadOnlyListString) : null),
                ("@policy", updated.RetryPolicyJson), ("@maxrun", updated.MaxRunSeconds), ("@q", queue.Id))], cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<bool> DeleteQueueAsync(long entityId, string name, bool force, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await session.FirstAsync($"SELECT {QueueColumns} WHERE q.entity_id = @e AND q.name = @name{database.LockRows("q")}", QueueRow, cancellationToken, ("@e", entityId), ("@name", name)) is not { } queue)
            {
                return false;
            }

            var active = await ReadItemsAsync(session,
                $"WHERE i.queue_id = @q AND i.state NOT IN ('{ItemStates.Finished}', '{ItemStates.Failed}', '{ItemStates.Cancelled}'){database.LockRows("i")}",
                cancellationToken, ("@q", queue.Id));
            if (active.Count > 0 && !force)
            {
                throw new ItemConflictException($"queue '{name}' has {active.Count} active item(s); cancel them first or delete with force");
            }

            await session.ExecuteAsync([
                .. active.SelectMany(a => EndRunOfItem(a.Item with { State = ItemStates.Cancelled }, now)),
                new Sql("DELETE FROM item_events WHERE item_id IN (SELECT id FROM items WHERE queue_id = @q)", ("@q", queue.Id)),
                new Sql("DELETE FROM items WHERE queue_id = @q", ("@q", queue.Id)),
                new Sql("DELETE FROM queues WHERE id = @q", ("@q", queue.Id)),
            ], cancellationToken);
            return true;
        }, cancellationToken);

    public Task<(ItemRecord Item, bool Created)> EnqueueAsync(long entityId, long queueId, ItemRecord item, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            // A concurrent enqueue with the same key (a client retrying on another replica) waits on the unique index
            // until the first commits, then stores nothing; the earlier item is read back below.
            var inserted = await session.ExecuteAsync("""
                INSERT INTO items (id, queue_id, entity_id, state, priority, attempt, max_attempts, job, job_definition, project, run_id,
                    config, resource_args, template_values, entrypoint, phase, error, agent_id, idempotency_key, created_at,
                    claimed_at, started_at, ended_at, lease_expires_at, cancel_requested, submitted_by, retry_policy, max_run_seconds)
                VALUES (@id, @q, @e, @state, @priority, @attempt, @max, @job, @definition, @project, NULL,
                    @config, @args, @values, @entrypoint, NULL, NULL, NULL, @key, @created, NULL, NULL, NULL, NULL, @cancel,
                    COALESCE((SELECT id FROM entities WHERE name = @by), @e), @policy, @maxrun)
                ON CONFLICT (entity_id, idempotency_key) DO NOTHING
                """, cancellationToken,
                ("@id", item.Id), ("@q", queueId), ("@e", entityId), ("@state", item.State), ("@priority", item.Priority),
                ("@attempt", item.Attempt), ("@max", item.MaxAttempts), ("@job", item.Job), ("@definition", item.JobDefinitionJson),
                ("@project", item.Project), ("@config", item.ConfigJson), ("@args", item.ResourceArgsJson), ("@values", item.TemplateValuesJson),
                ("@entrypoint", item.EntrypointJson), ("@key", item.IdempotencyKey), ("@created", item.CreatedAt), ("@cancel", false),
                ("@by", item.SubmittedBy), ("@policy", item.RetryPolicyJson), ("@maxrun", item.MaxRunSeconds));
            if (inserted == 0)
            {
                var earlier = await ReadItemsAsync(session, "WHERE i.entity_id = @e AND i.idempotency_key = @key", cancellationToken, ("@e", entityId), ("@key", item.IdempotencyKey));
                return (earlier[0].Item, false);
            }

            await session.ExecuteAsync([Event(item, item.CreatedAt), .. Wake(queueId)], cancellationToken);
            return (item with { SubmittedBy = item.SubmittedBy ?? await session.ScalarAsync("SELECT name FROM entities WHERE id = @e", cancellationToken, ("@e", entityId)) as string }, true);
        }, cancellationToken);

    public Task<ItemRecord?> GetItemAsync(long entityId, string itemId, CancellationToken cancellationToken) =>
        database.ReadAsync(async session => (await ReadItemsAsync(session, "WHERE i.entity_id = @e AND i.id = @id", cancellationToken, ("@e", entityId), ("@id", itemId))).FirstOrDefault()?.Item, cancellationToken);

    public Task<ItemRecord?> FindItemByRunAsync(long entityId, string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(async session => (await ReadItemsAsync(session, "WHERE i.entity_id = @e AND i.run_id = @run", cancellationToken, ("@e", entityId), ("@run", runId))).FirstOrDefault()?.Item, cancellationToken);

    public Task<IReadOnlyDictionary<string, ItemRecord>> FindItemsByRunsAsync(long entityId, IReadOnlyCollection<string> runIds, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyDictionary<string, ItemRecord>>(async session =>
        {
            List<ItemRow> items = runIds.Count == 0 ? [] : await ReadItemsAsync(session, $"WHERE i.entity_id = @e AND i.run_id {database.AnyOf("@runs")}",
                cancellationToken, ("@e", entityId), ("@runs", runIds.ToArray()));
            return items.ToDictionary(r => r.Item.RunId!, r => r.Item, StringComparer.Ordinal);
        }, cancellationToken);

    public Task<IReadOnlyList<ItemRecord>> ListItemsAsync(long queueId, string? state, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ItemRecord>>(async session =>
        {
            var items = new List<ItemRecord>();
            if (state is null or ItemStates.Pending)
            {
                items.AddRange((await ReadItemsAsync(session, $"WHERE i.queue_id = @q AND i.state = '{ItemStates.Pending}' ORDER BY i.priority, i.seq LIMIT @limit",
                    cancellationToken, ("@q", queueId), ("@limit", limit))).Select(r => r.Item));
            }

            if (state != ItemStates.Pending && items.Count < limit)
            {
                var (filter, parameters) = state is null
                    ? ($"i.state <> '{ItemStates.Pending}'", new (string, object?)[] { ("@q", queueId), ("@limit", limit - items.Count) })
                    : ("i.state = @state", [("@q", queueId), ("@limit", limit - items.Count), ("@state", state)]);
                items.AddRange((await ReadItemsAsync(session, $"WHERE i.queue_id = @q AND {filter} ORDER BY i.seq DESC LIMIT @limit", cancellationToken, parameters)).Select(r => r.Item));
            }

            return items;
        }, cancellationToken);

    public async Task<ClaimedItem?> ClaimAsync(AgentRecord agent, IReadOnlyList<long> queueIds, DateTimeOffset now, DateTimeOffset leaseUntil, Func<ItemRecord, QueueRecord, ClaimedRun> prepare, CancellationToken cancellationToken)
    {
        ItemRecord? pending = null;
        var claimed = await database.WriteAsync(async session =>
        {
            if (await database.FindClaimableAsync(session, queueIds, cancellationToken) is not { } found)
            {
                return null;
            }

            (pending, var entityId, var queueId) = found;

            var queue = (await session.FirstAsync($"SELECT {QueueColumns} WHERE q.id = @q", QueueRow, cancellationToken, ("@q", queueId)))!;
            var (run, key) = prepare(pending, queue);
            var item = ItemLifecycle.Claim(pending, agent.Id, run.Id, now, leaseUntil);
            var affected = await session.ExecuteAsync([.. RunInserts(entityId, run), KeyInsert(entityId, key), ItemUpdate(item), Event(item, now)], cancellationToken);
            return affected[1] == 1
                ? new ClaimedItem(item, queue, run)
                : throw new DuplicateException($"run id {run.Id} collided; the claim is retried");
        }, cancellationToken);
        if (claimed is not null)
        {
            database.Metrics?.ItemChanged(pending!, claimed.Item);
        }

        return claimed;
    }

    public async Task<ItemRecord?> UpdateItemAsync(long entityId, string itemId, Func<ItemRecord, ItemRecord> change, CancellationToken cancellationToken)
    {
        ItemRecord? before = null;
        var changed = await database.WriteAsync(async session =>
        {
            var found = await ReadItemsAsync(session, $"WHERE i.entity_id = @e AND i.id = @id{database.LockRows("i")}", cancellationToken, ("@e", entityId), ("@id", itemId));
            if (found.Count == 0)
            {
                return null;
            }

            (before, _, var queueId) = found[0];
            var after = ItemLifecycle.Clear(change(before));
            if (!ReferenceEquals(before, after))
            {
                await session.ExecuteAsync([
                    ItemUpdate(after),
                    .. Changed(before, after) ? [Event(after, after.EndedAt ?? DateTimeOffset.UtcNow)] : Array.Empty<Sql>(),
                    .. after.IsTerminal && !before.IsTerminal ? EndRunOfItem(after, after.EndedAt ?? DateTimeOffset.UtcNow) : [],
                    .. ItemLifecycle.IsRetry(before, after) ? RetryRunOfItem(before, DateTimeOffset.UtcNow) : [],
                    .. ItemLifecycle.IsRelease(before, after) ? ReleaseRunOfItem(before, queueId, DateTimeOffset.UtcNow) : [],
                ], cancellationToken);
            }

            return after;
        }, cancellationToken);
        if (changed is not null)
        {
            database.Metrics?.ItemChanged(before!, changed);
        }

        return changed;
    }

    /// <summary>Handed back: the attempt's run and key end with it; the item waits for the next claim, which its queue's listeners hear of.</summary>
    private IEnumerable<Sql> ReleaseRunOfItem(ItemRecord item, long queueId, DateTimeOffset now) =>
    [
        .. RevokeRunKeys(item.RunId, now),
        new Sql($"UPDATE runs SET state = '{RunStates.Killed}', ended_at = @now WHERE id = @run AND state IN ('{RunStates.Pending}', '{RunStates.Running}')",
            ("@now", now), ("@run", item.RunId)),
        .. Wake(queueId),
    ];

    /// <summary>
    /// The attempt's run and key end with a retried attempt: its key stops working and a run the workload never
    /// reached (still pending) ends failed; a run the SDK reported on keeps the end it reported.
    /// </summary>
    private static IEnumerable<Sql> RetryRunOfItem(ItemRecord attempt, DateTimeOffset now) =>
    [
        .. RevokeRunKeys(attempt.RunId, now),
        new Sql($"UPDATE runs SET state = '{RunStates.Failed}', ended_at = @now WHERE id = @run AND state = '{RunStates.Pending}'", ("@now", now), ("@run", attempt.RunId)),
    ];

    public Task<IReadOnlyList<long>> PromoteBackoffsAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync<IReadOnlyList<long>>(async session =>
        {
            var due = await ReadItemsAsync(session,
                $"WHERE i.claimable_at IS NOT NULL AND i.claimable_at <= @now{database.LockRows("i", skipLocked: true)}", cancellationToken, ("@now", now));
            var queues = due.Select(d => d.QueueId).Distinct().ToList();
            await session.ExecuteAsync([
                .. due.Select(d => new Sql("UPDATE items SET claimable_at = NULL WHERE id = @id", ("@id", d.Item.Id))),
                .. queues.SelectMany(Wake),
            ], cancellationToken);
            return queues;
        }, cancellationToken);

    public Task<IReadOnlyList<ItemEvent>?> GetItemHistoryAsync(long entityId, string itemId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ItemEvent>?>(async session =>
        {
            if (await session.ScalarAsync("SELECT 1 FROM items WHERE entity_id = @e AND id = @id", cancellationToken, ("@e", entityId), ("@id", itemId)) is null)
            {
                return null;
            }

            return await session.ListAsync(
                "SELECT at, state, attempt, failure_class, phase, message, run_id, agent_id, claimable_at FROM item_events WHERE item_id = @id ORDER BY seq",
                r => new ItemEvent(r.Time(0), r.String(1), r.Int(2), r.NullableString(3), r.NullableString(4), r.NullableString(5), r.NullableString(6), r.NullableString(7), r.NullableTime(8)),
                cancellationToken, ("@id", itemId));
        }, cancellationToken);

    public async Task<IReadOnlyList<ItemRecord>> ExpireLeasesAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        Reported(await database.WriteAsync(async session =>
        {
            // Every replica's reaper runs this: SKIP LOCKED lets them share the work instead of queueing, and passes
            // over an item whose heartbeat is renewing its lease right now (the next tick looks again).
            var expired = await ReadItemsAsync(session,
                $"WHERE i.lease_expires_at IS NOT NULL AND i.lease_expires_at < @now{database.LockRows("i", skipLocked: true)}", cancellationToken, ("@now", now));
            var changed = new List<(ItemRecord, ItemRecord)>();
            var writes = new List<Sql>();
            foreach (var (item, _, queueId) in expired)
            {
                var next = ItemLifecycle.Clear(ItemLifecycle.Expire(item, now, Random.Shared.NextDouble()));
                writes.Add(ItemUpdate(next));
                writes.Add(Event(next, now));
                writes.AddRange(RevokeRunKeys(item.RunId, now));
                writes.Add(new Sql(
                    $"UPDATE runs SET state = '{RunStates.Crashed}', ended_at = @now WHERE id = @run AND state IN ('{RunStates.Pending}', '{RunStates.Running}')",
                    ("@now", now), ("@run", item.RunId)));
                if (next.State == ItemStates.Pending && next.ClaimableAt is null)
                {
                    writes.AddRange(Wake(queueId));
                }

                changed.Add((item, next));
            }

            await session.ExecuteAsync(writes, cancellationToken);
            return changed;
        }, cancellationToken));

    public async Task<IReadOnlyList<ItemRecord>> TimeOutStartsAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        Reported(await database.WriteAsync(async session =>
        {
            var stuck = await ReadItemsAsync(session, $"""
                WHERE i.state IN ('{ItemStates.Leased}', '{ItemStates.Starting}')
                  AND {database.AddSeconds("i.claimed_at", "q.start_timeout_seconds")} < @now
                {database.LockRows("i", skipLocked: true)}
                """, cancellationToken, ("@now", now));
            var failed = new List<(ItemRecord, ItemRecord)>();
            var writes = new List<Sql>();
            foreach (var (item, _, queueId) in stuck)
            {
                var queue = (await session.FirstAsync($"SELECT {QueueColumns} WHERE q.id = @q", QueueRow, cancellationToken, ("@q", queueId)))!;
                var next = ItemLifecycle.Clear(ItemLifecycle.TimeOutStart(item, TimeSpan.FromSeconds(queue.StartTimeoutSeconds), now, Random.Shared.NextDouble()));
                writes.Add(ItemUpdate(next));
                writes.Add(Event(next, now));
                writes.AddRange(next.State == ItemStates.Pending ? RetryRunOfItem(item, now) : EndRunOfItem(next, now));
                failed.Add((item, next));
            }

            await session.ExecuteAsync(writes, cancellationToken);
            return failed;
        }, cancellationToken));

    /// <summary>The items a sweep changed, each change reported to the metrics once it is committed.</summary>
    private IReadOnlyList<ItemRecord> Reported(List<(ItemRecord Before, ItemRecord After)> changes)
    {
        foreach (var (before, after) in changes)
        {
            database.Metrics?.ItemChanged(before, after);
        }

        return [.. changes.Select(c => c.After)];
    }

    public Task<QueueSample> SampleQueuesAsync(CancellationToken cancellationToken) =>
        database.ReadAsync(async session =>
        {
            // Both item reads walk a partial index (pending items by queue, priority and seq; held items), never the
            // ended ones; the oldest pending item of a priority is its first seq.
            var pending = await session.ListAsync($"""
                SELECT e.name, q.name, p.priority, p.n, i.created_at
                FROM (SELECT queue_id, priority, COUNT(*) AS n, MIN(seq) AS first FROM items WHERE state = '{ItemStates.Pending}' GROUP BY queue_id, priority) p
                JOIN items i ON i.seq = p.first JOIN queues q ON q.id = p.queue_id JOIN entities e ON e.id = q.entity_id
                """, r => new PendingCount(r.String(0), r.String(1), r.Int(2), r.Long(3), r.Time(4)), cancellationToken);
            var queues = await session.ListAsync("""
                SELECT e.name, q.name, COALESCE(h.n, 0)
                FROM queues q JOIN entities e ON e.id = q.entity_id
                LEFT JOIN (SELECT queue_id, COUNT(*) AS n FROM items WHERE lease_expires_at IS NOT NULL GROUP BY queue_id) h ON h.queue_id = q.id
                """, r => new QueueLoad(r.String(0), r.String(1), r.Long(2)), cancellationToken);
            var agents = await session.ListAsync($"SELECT state, heartbeat_at FROM agents WHERE state <> '{AgentStates.Stopped}'",
                r => new AgentBeat(r.String(0), r.Time(1)), cancellationToken);
            return new QueueSample(pending, queues, agents);
        }, cancellationToken);

    public Task<AgentRecord> RegisterAgentAsync(long entityId, AgentRecord agent, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            await session.ExecuteAsync("""
                INSERT INTO agents (id, entity_id, name, queues, version, host, max_jobs, state, running_items, registered_at, heartbeat_at, stop_requested)
                VALUES (@id, @e, @name, @queues, @version, @host, @max, @state, 0, @at, @at, @stop)
                """, cancellationToken,
                ("@id", agent.Id), ("@e", entityId), ("@name", agent.Name), ("@queues", JsonSerializer.Serialize(agent.Queues, LiftoffJsonContext.Default.IReadOnlyListString)),
                ("@version", agent.Version), ("@host", agent.Host), ("@max", agent.MaxJobs), ("@state", agent.State), ("@at", agent.RegisteredAt), ("@stop", false));
            return agent;
        }, cancellationToken);

    public Task<AgentRecord?> GetAgentAsync(long entityId, string agentId, CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync($"SELECT {AgentColumns} WHERE a.entity_id = @e AND a.id = @id", AgentRow, cancellationToken, ("@e", entityId), ("@id", agentId)), cancellationToken);

    public Task<AgentRecord?> UpdateAgentAsync(long entityId, string agentId, Func<AgentRecord, AgentRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await session.FirstAsync($"SELECT {AgentColumns} WHERE a.entity_id = @e AND a.id = @id{database.LockRows("a")}", AgentRow, cancellationToken, ("@e", entityId), ("@id", agentId)) is not { } found)
            {
                return null;
            }

            var agent = change(found);
            await session.ExecuteAsync("UPDATE agents SET state = @state, running_items = @running, heartbeat_at = @at, stop_requested = @stop WHERE id = @id", cancellationToken,
                ("@state", agent.State), ("@running", agent.RunningItems), ("@at", agent.HeartbeatAt), ("@stop", agent.StopRequested), ("@id", agent.Id));
            return agent;
        }, cancellationToken);

    public Task<IReadOnlyList<AgentRecord>> ListAgentsAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<AgentRecord>>(async session => await session.ListAsync($"SELECT {AgentColumns} WHERE a.entity_id = @e ORDER BY a.registered_at DESC", AgentRow, cancellationToken, ("@e", entityId)), cancellationToken);

    private IEnumerable<Sql> Wake(long queueId) => database.WakeQueue(queueId) is { } wake ? [wake] : [];

    /// <summary>The run side of an item that ended: its key stops working; cancelled → killed, failed before running → failed.</summary>
    private static IEnumerable<Sql> EndRunOfItem(ItemRecord item, DateTimeOffset now)
    {
        if (item.RunId is null)
        {
            yield break;
        }

        foreach (var revoke in RevokeRunKeys(item.RunId, now))
        {
            yield return revoke;
        }

        var (state, from) = item.State switch
        {
            ItemStates.Cancelled => (RunStates.Killed, $"'{RunStates.Pending}', '{RunStates.Running}', '{RunStates.Crashed}'"),
            ItemStates.Failed => (RunStates.Failed, $"'{RunStates.Pending}'"),
            _ => (null, null),
        };
        if (state is not null)
        {
            yield return new Sql($"UPDATE runs SET state = @state, ended_at = @now WHERE id = @run AND state IN ({from})",
                ("@state", state), ("@now", now), ("@run", item.RunId));
        }
    }

    private static IEnumerable<Sql> RevokeRunKeys(string? runId, DateTimeOffset now) =>
        runId is null ? [] : [new Sql("UPDATE api_keys SET revoked_at = @now WHERE run_id = @run AND revoked_at IS NULL", ("@now", now), ("@run", runId))];

    private static Sql ItemUpdate(ItemRecord item) =>
        new("""
            UPDATE items SET state = @state, attempt = @attempt, run_id = @run, phase = @phase, error = @error, agent_id = @agent,
                claimed_at = @claimed, started_at = @started, ended_at = @ended, lease_expires_at = @lease, cancel_requested = @cancel,
                waiting_reason = @waiting, failure_class = @class, claimable_at = @claimable, retries = @retries
            WHERE id = @id
            """,
            ("@state", item.State), ("@attempt", item.Attempt), ("@run", item.RunId), ("@phase", item.Phase), ("@error", item.Error),
            ("@agent", item.AgentId), ("@claimed", item.ClaimedAt), ("@started", item.StartedAt), ("@ended", item.EndedAt),
            ("@lease", item.LeaseExpiresAt), ("@cancel", item.CancelRequested), ("@waiting", item.WaitingReason), ("@class", item.FailureClass), ("@claimable", item.ClaimableAt),
            ("@retries", item.RetriesJson), ("@id", item.Id));

    /// <summary>Whether a change is one the item's history records: a new state or a new attempt (a lease renewal is not).</summary>
    private static bool Changed(ItemRecord before, ItemRecord after) => before.State != after.State || before.Attempt != after.Attempt;

    /// <summary>The item's state as one more entry of its append-only history.</summary>
    private static Sql Event(ItemRecord item, DateTimeOffset at) =>
        new("""
            INSERT INTO item_events (item_id, at, state, attempt, failure_class, phase, message, run_id, agent_id, claimable_at)
            VALUES (@id, @at, @state, @attempt, @class, @phase, @message, @run, @agent, @claimable)
            """,
            ("@id", item.Id), ("@at", at), ("@state", item.State), ("@attempt", item.Attempt), ("@class", item.FailureClass),
            ("@phase", item.Phase), ("@message", item.Error), ("@run", item.RunId), ("@agent", item.AgentId), ("@claimable", item.ClaimableAt));

    internal static Task<List<ItemRow>> ReadItemsAsync(DbSession session, string where, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        session.ListAsync($"{ItemSelect} FROM items i {ItemJoins} {where}", ItemRowOf, cancellationToken, parameters);

    internal static ItemRow ItemRowOf(Row r) => new(new ItemRecord(
        Id: r.String(0), Queue: r.String(1), Entity: r.String(2), State: r.String(3),
        Priority: r.Int(4), Attempt: r.Int(5), MaxAttempts: r.Int(6), Job: r.String(7),
        JobDefinitionJson: r.String(8), Project: r.String(9), RunId: r.NullableString(10),
        ConfigJson: r.String(11), ResourceArgsJson: r.String(12), TemplateValuesJson: r.String(13),
        EntrypointJson: r.NullableString(14), Phase: r.NullableString(15), Error: r.NullableString(16),
        AgentId: r.NullableString(17), IdempotencyKey: r.NullableString(18), CreatedAt: r.Time(19),
        ClaimedAt: r.NullableTime(20), StartedAt: r.NullableTime(21), EndedAt: r.NullableTime(22),
        LeaseExpiresAt: r.NullableTime(23), CancelRequested: r.Bool(24), SubmittedBy: r.NullableString(27), WaitingReason: r.NullableString(28),
        FailureClass: r.NullableString(29), ClaimableAt: r.NullableTime(30), RetriesJson: r.NullableString(31), RetryPolicyJson: r.NullableString(32),
        MaxRunSeconds: r.NullableInt(33)), r.Long(25), r.Long(26));

    private static QueueRecord QueueRow(Row r) => new(r.Long(0), r.String(1), r.String(2), r.String(3), r.String(4),
        JsonSerializer.Deserialize(r.String(5), LiftoffJsonContext.Default.IReadOnlyListTemplateVariable)!,
        r.Int(6), r.Int(7), r.Time(8), r.NullableString(9) is { } allowed ? JsonSerializer.Deserialize(allowed, LiftoffJsonContext.Default.IReadOnlyListString) : null,
        r.NullableString(10), r.NullableInt(11));

    private static AgentRecord AgentRow(Row r) => new(r.String(0), r.String(1), r.String(2),
        JsonSerializer.Deserialize(r.String(3), LiftoffJsonContext.Default.IReadOnlyListString)!,
        r.NullableString(4), r.NullableString(5), r.Int(6), r.String(7), r.Int(8), r.Time(9), r.Time(10), r.Bool(11));
}
