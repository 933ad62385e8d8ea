using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Npgsql;

namespace Liftoff.Server.Storage.Postgres;

internal sealed partial class PostgresStore : IQueueStore
{
    private const string QueueColumns = """
        q.id, e.name, q.name, q.resource, q.config, q.template_variables, q.max_attempts, q.start_timeout_seconds, q.created_at
        FROM queues q JOIN entities e ON e.id = q.entity_id
        """;

    private const string ItemSelect = """
        SELECT i.id, q.name, e.name, i.state, i.priority, i.attempt, i.max_attempts, i.job, i.job_definition, i.project, i.run_id,
        i.config, i.resource_args, i.template_values, i.entrypoint, i.phase, i.error, i.agent_id, i.idempotency_key,
        i.created_at, i.claimed_at, i.started_at, i.ended_at, i.lease_expires_at, i.cancel_requested, i.entity_id, i.queue_id
        """;

    private const string ItemJoins = "JOIN queues q ON q.id = i.queue_id JOIN entities e ON e.id = i.entity_id";

    private const string AgentColumns = """
        a.id, e.name, a.name, a.queues, a.version, a.host, a.max_jobs, a.state, a.running_items, a.registered_at, a.heartbeat_at, a.stop_requested
        FROM agents a JOIN entities e ON e.id = a.entity_id
        """;

    /// <summary>
    /// Tells every replica listening (<see cref="PostgresQueueListener"/>) that the queue has a pending item, when the
    /// transaction commits. The payload names the schema too, so installations sharing a database wake only their own.
    /// </summary>
    private const string NotifyQueue = $"SELECT pg_notify('{PostgresQueueListener.Channel}', current_schema() || ':' || @q)";

    public Task<QueueRecord> CreateQueueAsync(long entityId, QueueRecord queue, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var id = await Command(connection, transaction, """
                INSERT INTO queues (entity_id, name, resource, config, template_variables, max_attempts, start_timeout_seconds, created_at)
                VALUES (@e, @name, @resource, @config, @vars, @attempts, @timeout, @at)
                ON CONFLICT (entity_id, name) DO NOTHING RETURNING id
                """,
                ("e", entityId), ("name", queue.Name), ("resource", queue.Resource), ("config", queue.ConfigJson),
                ("vars", JsonSerializer.Serialize(queue.TemplateVariables, LiftoffJsonContext.Default.IReadOnlyListTemplateVariable)),
                ("attempts", queue.MaxAttempts), ("timeout", queue.StartTimeoutSeconds), ("at", queue.CreatedAt)).ExecuteScalarAsync(cancellationToken) as long?
                ?? throw new DuplicateException($"a queue named '{queue.Name}' exists");
            return queue with { Id = id };
        }, cancellationToken);

    public Task<QueueRecord?> GetQueueAsync(long entityId, string name, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection => (await ReadQueuesAsync(connection, null, "WHERE q.entity_id = @e AND q.name = @name", cancellationToken, ("e", entityId), ("name", name))).FirstOrDefault(), cancellationToken);

    public Task<IReadOnlyList<QueueRecord>> ListQueuesAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadQueuesAsync(connection, null, "WHERE q.entity_id = @e ORDER BY q.name", cancellationToken, ("e", entityId)), cancellationToken);

    public Task<QueueStats> GetQueueStatsAsync(long queueId, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            await using (var command = Command(connection, null, "SELECT state, COUNT(*) FROM items WHERE queue_id = @q GROUP BY state", ("q", queueId)))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    counts[reader.GetString(0)] = reader.GetInt64(1);
                }
            }

            var oldest = await Command(connection, null, $"SELECT MIN(created_at) FROM items WHERE queue_id = @q AND state = '{ItemStates.Pending}'", ("q", queueId))
                .ExecuteScalarAsync(cancellationToken);
            return new QueueStats(counts, oldest is DateTime utc ? new DateTimeOffset(utc, TimeSpan.Zero) : null);
        }, cancellationToken);

    public Task<bool> DeleteQueueAsync(long entityId, string name, bool force, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var queue = (await ReadQueuesAsync(connection, transaction, "WHERE q.entity_id = @e AND q.name = @name FOR UPDATE OF q", cancellationToken, ("e", entityId), ("name", name))).FirstOrDefault();
            if (queue is null)
            {
                return false;
            }

            var active = await ReadItemsAsync(connection, transaction,
                $"WHERE i.queue_id = @q AND i.state NOT IN ('{ItemStates.Finished}', '{ItemStates.Failed}', '{ItemStates.Cancelled}') FOR UPDATE OF i",
                cancellationToken, ("q", queue.Id));
            if (active.Count > 0 && !force)
            {
                throw new ItemConflictException($"queue '{name}' has {active.Count} active item(s); cancel them first or delete with force");
            }

            await ExecuteAsync(connection, transaction, [
                .. active.SelectMany(a => EndRunOfItem(a.Item with { State = ItemStates.Cancelled }, now)),
                Statement("DELETE FROM items WHERE queue_id = @q", ("q", queue.Id)),
                Statement("DELETE FROM queues WHERE id = @q", ("q", queue.Id)),
            ], cancellationToken);
            return true;
        }, cancellationToken);

    public Task<(ItemRecord Item, bool Created)> EnqueueAsync(long entityId, long queueId, ItemRecord item, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            // A concurrent enqueue with the same key (a client retrying on another replica) waits on the unique index
            // until the first commits, then stores nothing; the earlier item is read back below.
            var inserted = await Command(connection, transaction, """
                INSERT INTO items (id, queue_id, entity_id, state, priority, attempt, max_attempts, job, job_definition, project, run_id,
                    config, resource_args, template_values, entrypoint, phase, error, agent_id, idempotency_key, created_at,
                    claimed_at, started_at, ended_at, lease_expires_at, cancel_requested)
                VALUES (@id, @q, @e, @state, @priority, @attempt, @max, @job, @definition, @project, NULL,
                    @config, @args, @values, @entrypoint, NULL, NULL, NULL, @key, @created, NULL, NULL, NULL, NULL, FALSE)
                ON CONFLICT (entity_id, idempotency_key) DO NOTHING
                """,
                ("id", item.Id), ("q", queueId), ("e", entityId), ("state", item.State), ("priority", item.Priority),
                ("attempt", item.Attempt), ("max", item.MaxAttempts), ("job", item.Job), ("definition", item.JobDefinitionJson),
                ("project", item.Project), ("config", item.ConfigJson), ("args", item.ResourceArgsJson), ("values", item.TemplateValuesJson),
                ("entrypoint", item.EntrypointJson), ("key", item.IdempotencyKey), ("created", item.CreatedAt)).ExecuteNonQueryAsync(cancellationToken);
            if (inserted == 0)
            {
                var earlier = await ReadItemsAsync(connection, transaction, "WHERE i.entity_id = @e AND i.idempotency_key = @key", cancellationToken, ("e", entityId), ("key", item.IdempotencyKey));
                return (earlier[0].Item, false);
            }

            await Command(connection, transaction, NotifyQueue, ("q", queueId)).ExecuteNonQueryAsync(cancellationToken);
            return (item, true);
        }, cancellationToken);

    public Task<ItemRecord?> GetItemAsync(long entityId, string itemId, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection => (await ReadItemsAsync(connection, null, "WHERE i.entity_id = @e AND i.id = @id", cancellationToken, ("e", entityId), ("id", itemId))).Select(r => r.Item).FirstOrDefault(), cancellationToken);

    public Task<ItemRecord?> FindItemByRunAsync(long entityId, string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection => (await ReadItemsAsync(connection, null, "WHERE i.entity_id = @e AND i.run_id = @run", cancellationToken, ("e", entityId), ("run", runId))).Select(r => r.Item).FirstOrDefault(), cancellationToken);

    public Task<IReadOnlyDictionary<string, ItemRecord>> FindItemsByRunsAsync(long entityId, IReadOnlyCollection<string> runIds, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyDictionary<string, ItemRecord>>(async connection =>
        {
            if (runIds.Count == 0)
            {
                return new Dictionary<string, ItemRecord>(StringComparer.Ordinal);
            }

            var items = await ReadItemsAsync(connection, null, "WHERE i.entity_id = @e AND i.run_id = ANY(@runs)", cancellationToken, ("e", entityId), ("runs", runIds.ToArray()));
            return items.Select(r => r.Item).ToDictionary(i => i.RunId!, StringComparer.Ordinal);
        }, cancellationToken);

    public Task<IReadOnlyList<ItemRecord>> ListItemsAsync(long queueId, string? state, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ItemRecord>>(async connection =>
        {
            var items = new List<ItemRecord>();
            if (state is null or ItemStates.Pending)
            {
                items.AddRange((await ReadItemsAsync(connection, null, $"WHERE i.queue_id = @q AND i.state = '{ItemStates.Pending}' ORDER BY i.priority, i.seq LIMIT @limit",
                    cancellationToken, ("q", queueId), ("limit", limit))).Select(r => r.Item));
            }

            if (state != ItemStates.Pending && items.Count < limit)
            {
                var (filter, parameters) = state is null
                    ? ($"i.state <> '{ItemStates.Pending}'", new (string, object?)[] { ("q", queueId), ("limit", limit - items.Count) })
                    : ("i.state = @state", [("q", queueId), ("limit", limit - items.Count), ("state", state)]);
                items.AddRange((await ReadItemsAsync(connection, null, $"WHERE i.queue_id = @q AND {filter} ORDER BY i.seq DESC LIMIT @limit", cancellationToken, parameters)).Select(r => r.Item));
            }

            return items;
        }, cancellationToken);

    public Task<ClaimedItem?> ClaimAsync(AgentRecord agent, IReadOnlyList<long> queueIds, DateTimeOffset now, DateTimeOffset leaseUntil, Func<ItemRecord, QueueRecord, ClaimedRun> prepare, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            // Per queue, the head of the pending index that no other claim holds (SKIP LOCKED: concurrent claims pass
            // each other instead of queueing on one row, and a row another claim just leased fails the re-check of
            // state = 'pending'); then the best head over the agent's queues. Each probe is one index descent, O(log n).
            // The heads of the other queues stay locked only until this transaction ends, milliseconds from now.
            // The item's columns come from the locking subquery itself: that is the row as locked, the latest version.
            var found = await ReadItemRowsAsync(connection, transaction, $"""
                {ItemSelect} FROM (
                    SELECT h.* FROM unnest(@queues) AS n(id) CROSS JOIN LATERAL (
                        SELECT p.* FROM items p WHERE p.queue_id = n.id AND p.state = '{ItemStates.Pending}'
                        ORDER BY p.priority, p.seq LIMIT 1 FOR UPDATE SKIP LOCKED) h
                    ORDER BY h.priority, h.seq LIMIT 1) i
                {ItemJoins}
                """, cancellationToken, ("queues", queueIds.ToArray()));
            if (found.Count == 0)
            {
                return null;
            }

            var (item, entityId, queueId) = found[0];
            var queue = (await ReadQueuesAsync(connection, transaction, "WHERE q.id = @q", cancellationToken, ("q", queueId)))[0];
            var (run, key) = prepare(item, queue);
            var claimed = ItemLifecycle.Claim(item, agent.Id, run.Id, now, leaseUntil);
            var (project, insertRun) = RunInserts(entityId, run);
            await ExecuteAsync(connection, transaction, [project, insertRun, KeyInsert(entityId, key), ItemUpdate(claimed)], cancellationToken);
            return insertRun.RecordsAffected == 1
                ? new ClaimedItem(claimed, queue, run)
                : throw new DuplicateException($"run id {run.Id} collided; the claim is retried");
        }, cancellationToken);

    public Task<ItemRecord?> UpdateItemAsync(long entityId, string itemId, Func<ItemRecord, ItemRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var found = await ReadItemsAsync(connection, transaction, "WHERE i.entity_id = @e AND i.id = @id FOR UPDATE OF i", cancellationToken, ("e", entityId), ("id", itemId));
            if (found.Count == 0)
            {
                return null;
            }

            var (before, _, queueId) = found[0];
            var after = change(before);
            if (!ReferenceEquals(before, after))
            {
                await ExecuteAsync(connection, transaction, [
                    ItemUpdate(after),
                    .. after.IsTerminal && !before.IsTerminal ? EndRunOfItem(after, after.EndedAt ?? DateTimeOffset.UtcNow) : [],
                    .. ItemLifecycle.IsRelease(before, after) ? ReleaseRunOfItem(before, queueId, DateTimeOffset.UtcNow) : [],
                ], cancellationToken);
            }

            return after;
        }, cancellationToken);

    public Task<IReadOnlyList<ItemRecord>> ExpireLeasesAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync<IReadOnlyList<ItemRecord>>(async (connection, transaction) =>
        {
            // Every replica's reaper runs this: SKIP LOCKED lets them share the work instead of queueing, and passes
            // over an item whose heartbeat is renewing its lease right now (the next tick looks again).
            var expired = await ReadItemsAsync(connection, transaction,
                "WHERE i.lease_expires_at IS NOT NULL AND i.lease_expires_at < @now FOR UPDATE OF i SKIP LOCKED", cancellationToken, ("now", now));
            var changed = new List<ItemRecord>();
            var writes = new List<NpgsqlBatchCommand>();
            foreach (var (item, _, queueId) in expired)
            {
                var next = ItemLifecycle.Expire(item, now);
                writes.Add(ItemUpdate(next));
                writes.AddRange(RevokeRunKeys(item.RunId, now));
                writes.Add(Statement(
                    $"UPDATE runs SET state = '{RunStates.Crashed}', ended_at = @now WHERE id = @run AND state IN ('{RunStates.Pending}', '{RunStates.Running}')",
                    ("now", now), ("run", item.RunId)));
                if (next.State == ItemStates.Pending)
                {
                    writes.Add(Statement(NotifyQueue, ("q", queueId)));
                }

                changed.Add(next);
            }

            await ExecuteAsync(connection, transaction, writes, cancellationToken);
            return changed;
        }, cancellationToken);

    public Task<IReadOnlyList<ItemRecord>> TimeOutStartsAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync<IReadOnlyList<ItemRecord>>(async (connection, transaction) =>
        {
            var stuck = await ReadItemsAsync(connection, transaction, $"""
                WHERE i.state IN ('{ItemStates.Leased}', '{ItemStates.Starting}')
                  AND i.claimed_at + make_interval(secs => q.start_timeout_seconds) < @now
                FOR UPDATE OF i SKIP LOCKED
                """, cancellationToken, ("now", now));
            var failed = new List<ItemRecord>();
            var writes = new List<NpgsqlBatchCommand>();
            foreach (var (item, _, queueId) in stuck)
            {
                var queue = (await ReadQueuesAsync(connection, transaction, "WHERE q.id = @q", cancellationToken, ("q", queueId)))[0];
                var next = ItemLifecycle.TimeOutStart(item, TimeSpan.FromSeconds(queue.StartTimeoutSeconds), now);
                writes.Add(ItemUpdate(next));
                writes.AddRange(EndRunOfItem(next, now));
                failed.Add(next);
            }

            await ExecuteAsync(connection, transaction, writes, cancellationToken);
            return failed;
        }, cancellationToken);

    public Task<AgentRecord> RegisterAgentAsync(long entityId, AgentRecord agent, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            await Command(connection, transaction, """
                INSERT INTO agents (id, entity_id, name, queues, version, host, max_jobs, state, running_items, registered_at, heartbeat_at, stop_requested)
                VALUES (@id, @e, @name, @queues, @version, @host, @max, @state, 0, @at, @at, FALSE)
                """,
                ("id", agent.Id), ("e", entityId), ("name", agent.Name), ("queues", JsonSerializer.Serialize(agent.Queues, LiftoffJsonContext.Default.IReadOnlyListString)),
                ("version", agent.Version), ("host", agent.Host), ("max", agent.MaxJobs), ("state", agent.State), ("at", agent.RegisteredAt)).ExecuteNonQueryAsync(cancellationToken);
            return agent;
        }, cancellationToken);

    public Task<AgentRecord?> GetAgentAsync(long entityId, string agentId, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection => (await ReadAgentsAsync(connection, null, "WHERE a.entity_id = @e AND a.id = @id", cancellationToken, ("e", entityId), ("id", agentId))).FirstOrDefault(), cancellationToken);

    public Task<AgentRecord?> UpdateAgentAsync(long entityId, string agentId, Func<AgentRecord, AgentRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var found = await ReadAgentsAsync(connection, transaction, "WHERE a.entity_id = @e AND a.id = @id FOR UPDATE OF a", cancellationToken, ("e", entityId), ("id", agentId));
            if (found.Count == 0)
            {
                return null;
            }

            var agent = change(found[0]);
            await Command(connection, transaction,
                "UPDATE agents SET state = @state, running_items = @running, heartbeat_at = @at, stop_requested = @stop WHERE id = @id",
                ("state", agent.State), ("running", agent.RunningItems), ("at", agent.HeartbeatAt), ("stop", agent.StopRequested), ("id", agent.Id)).ExecuteNonQueryAsync(cancellationToken);
            return agent;
        }, cancellationToken);

    public Task<IReadOnlyList<AgentRecord>> ListAgentsAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadAgentsAsync(connection, null, "WHERE a.entity_id = @e ORDER BY a.registered_at DESC", cancellationToken, ("e", entityId)), cancellationToken);

    /// <summary>The run side of an item that ended: its key stops working; cancelled → killed, failed before running → failed.</summary>
    private static IEnumerable<NpgsqlBatchCommand> EndRunOfItem(ItemRecord item, DateTimeOffset now)
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
            yield return Statement($"UPDATE runs SET state = @state, ended_at = @now WHERE id = @run AND state IN ({from})",
                ("state", state), ("now", now), ("run", item.RunId));
        }
    }

    /// <summary>Handed back: the attempt's run and key end with it; the item waits for the next claim, which its queue's listeners hear of.</summary>
    private static IEnumerable<NpgsqlBatchCommand> ReleaseRunOfItem(ItemRecord item, long queueId, DateTimeOffset now) =>
    [
        .. RevokeRunKeys(item.RunId, now),
        Statement($"UPDATE runs SET state = '{RunStates.Killed}', ended_at = @now WHERE id = @run AND state IN ('{RunStates.Pending}', '{RunStates.Running}')",
            ("now", now), ("run", item.RunId)),
        Statement(NotifyQueue, ("q", queueId)),
    ];

    private static IEnumerable<NpgsqlBatchCommand> RevokeRunKeys(string? runId, DateTimeOffset now) =>
        runId is null ? [] : [Statement("UPDATE api_keys SET revoked_at = @now WHERE run_id = @run AND revoked_at IS NULL", ("now", now), ("run", runId))];

    private static NpgsqlBatchCommand ItemUpdate(ItemRecord item) =>
        Statement("""
            UPDATE items SET state = @state, attempt = @attempt, run_id = @run, phase = @phase, error = @error, agent_id = @agent,
                claimed_at = @claimed, started_at = @started, ended_at = @ended, lease_expires_at = @lease, cancel_requested = @cancel
            WHERE id = @id
            """,
            ("state", item.State), ("attempt", item.Attempt), ("run", item.RunId), ("phase", item.Phase), ("error", item.Error),
            ("agent", item.AgentId), ("claimed", item.ClaimedAt), ("started", item.StartedAt), ("ended", item.EndedAt),
            ("lease", item.LeaseExpiresAt), ("cancel", item.CancelRequested), ("id", item.Id));

    private static async Task<IReadOnlyList<QueueRecord>> ReadQueuesAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string where, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, $"SELECT {QueueColumns} {where}", parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var queues = new List<QueueRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            queues.Add(new QueueRecord(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                JsonSerializer.Deserialize(reader.GetString(5), LiftoffJsonContext.Default.IReadOnlyListTemplateVariable)!,
                reader.GetInt32(6), reader.GetInt32(7), Time(reader, 8)));
        }

        return queues;
    }

    private static Task<IReadOnlyList<(ItemRecord Item, long EntityId, long QueueId)>> ReadItemsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string where, CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        ReadItemRowsAsync(connection, transaction, $"{ItemSelect} FROM items i {ItemJoins} {where}", cancellationToken, parameters);

    private static async Task<IReadOnlyList<(ItemRecord Item, long EntityId, long QueueId)>> ReadItemRowsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<(ItemRecord, long, long)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add((new ItemRecord(
                Id: reader.GetString(0), Queue: reader.GetString(1), Entity: reader.GetString(2), State: reader.GetString(3),
                Priority: reader.GetInt32(4), Attempt: reader.GetInt32(5), MaxAttempts: reader.GetInt32(6), Job: reader.GetString(7),
                JobDefinitionJson: reader.GetString(8), Project: reader.GetString(9), RunId: NullableString(reader, 10),
                ConfigJson: reader.GetString(11), ResourceArgsJson: reader.GetString(12), TemplateValuesJson: reader.GetString(13),
                EntrypointJson: NullableString(reader, 14), Phase: NullableString(reader, 15), Error: NullableString(reader, 16),
                AgentId: NullableString(reader, 17), IdempotencyKey: NullableString(reader, 18), CreatedAt: Time(reader, 19),
                ClaimedAt: NullableTime(reader, 20), StartedAt: NullableTime(reader, 21), EndedAt: NullableTime(reader, 22),
                LeaseExpiresAt: NullableTime(reader, 23), CancelRequested: reader.GetBoolean(24)), reader.GetInt64(25), reader.GetInt64(26)));
        }

        return items;
    }

    private static async Task<IReadOnlyList<AgentRecord>> ReadAgentsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string where, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, $"SELECT {AgentColumns} {where}", parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var agents = new List<AgentRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            agents.Add(new AgentRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                JsonSerializer.Deserialize(reader.GetString(3), LiftoffJsonContext.Default.IReadOnlyListString)!,
                NullableString(reader, 4), NullableString(reader, 5), reader.GetInt32(6), reader.GetString(7), reader.GetInt32(8),
                Time(reader, 9), Time(reader, 10), reader.GetBoolean(11)));
        }

        return agents;
    }
}
