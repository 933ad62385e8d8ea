using Liftoff.Contracts;
using Liftoff.Core.Runs;
using Npgsql;

namespace Liftoff.Server.Storage.Postgres;

/// <summary>
/// The store for several server replicas: one PostgreSQL database. Every read-modify-write locks the rows it changes
/// (<c>SELECT … FOR UPDATE</c>) inside one transaction, so replicas never lose each other's updates; claims skip rows
/// other claims hold (<c>FOR UPDATE SKIP LOCKED</c>).
/// </summary>
internal sealed partial class PostgresStore(PostgresDatabase database) : IIdentityStore, IRunStore
{
    private const string RunColumns = """
        r.seq, r.id, e.name, p.name, r.name, r.state, r.config, r.summary, r.host, r.os, r.program, r.python_version,
        r.exit_code, r.created_at, r.started_at, r.ended_at, r.heartbeat_at, r.stop_requested, r.last_step, r.log_lines,
        r.crash_on_silence, r.wandb
        FROM runs r JOIN entities e ON e.id = r.entity_id JOIN projects p ON p.id = r.project_id
        """;

    public Task<EntityRecord> CreateEntityAsync(string name, bool admin, NewKey firstKey, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var createdAt = firstKey.CreatedAt;
            var id = await Command(connection, transaction,
                "INSERT INTO entities (name, admin, created_at) VALUES (@name, @admin, @at) ON CONFLICT (name) DO NOTHING RETURNING id",
                ("name", name), ("admin", admin), ("at", createdAt)).ExecuteScalarAsync(cancellationToken) as long?
                ?? throw new DuplicateException($"the name '{name}' is taken");
            await InsertKeyAsync(connection, transaction, id, firstKey, cancellationToken);
            return new EntityRecord(id, name, admin, createdAt);
        }, cancellationToken);

    public Task<EntityRecord?> FindEntityAsync(string name, CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadEntityAsync(connection, "WHERE name = @name", ("name", name), cancellationToken), cancellationToken);

    public Task<EntityRecord?> FindAdminAsync(CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadEntityAsync(connection, "WHERE admin = @admin ORDER BY id LIMIT 1", ("admin", true), cancellationToken), cancellationToken);

    public Task AddKeyAsync(long entityId, NewKey key, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            await InsertKeyAsync(connection, transaction, entityId, key, cancellationToken);
            return 0;
        }, cancellationToken);

    public Task<KeyPrincipal?> FindKeyAsync(string keyHash, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT k.id, e.id, e.name, e.admin, k.run_id FROM api_keys k JOIN entities e ON e.id = k.entity_id
                WHERE k.key_hash = @hash AND k.revoked_at IS NULL
                """, ("hash", keyHash));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? new KeyPrincipal(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetBoolean(3), NullableString(reader, 4))
                : null;
        }, cancellationToken);

    public Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ApiKeyRecord>>(async connection =>
        {
            await using var command = Command(connection, null,
                "SELECT id, name, created_at, revoked_at FROM api_keys WHERE entity_id = @e AND run_id IS NULL ORDER BY created_at, id", ("e", entityId));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var keys = new List<ApiKeyRecord>();
            while (await reader.ReadAsync(cancellationToken))
            {
                keys.Add(new ApiKeyRecord(reader.GetString(0), entityId, reader.GetString(1), Time(reader, 2), NullableTime(reader, 3)));
            }

            return keys;
        }, cancellationToken);

    public Task<bool> RevokeKeyAsync(long entityId, string keyId, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var changed = await Command(connection, transaction,
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, @at) WHERE id = @id AND entity_id = @e",
                ("at", at), ("id", keyId), ("e", entityId)).ExecuteNonQueryAsync(cancellationToken);
            return changed == 1;
        }, cancellationToken);

    public Task CreateSessionAsync(NewSession session, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            await Command(connection, transaction, "DELETE FROM web_sessions WHERE expires_at <= @now", ("now", session.CreatedAt)).ExecuteNonQueryAsync(cancellationToken);
            await Command(connection, transaction,
                "INSERT INTO web_sessions (hash, key_id, created_at, expires_at) VALUES (@hash, @key, @at, @expires)",
                ("hash", session.Hash), ("key", session.KeyId), ("at", session.CreatedAt), ("expires", session.ExpiresAt)).ExecuteNonQueryAsync(cancellationToken);
            return 0;
        }, cancellationToken);

    public Task<KeyPrincipal?> FindSessionAsync(string sessionHash, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT k.id, e.id, e.name, e.admin, k.run_id FROM web_sessions s
                JOIN api_keys k ON k.id = s.key_id JOIN entities e ON e.id = k.entity_id
                WHERE s.hash = @hash AND s.expires_at > @now AND k.revoked_at IS NULL
                """, ("hash", sessionHash), ("now", now));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? new KeyPrincipal(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetBoolean(3), NullableString(reader, 4))
                : null;
        }, cancellationToken);

    public Task DeleteSessionAsync(string sessionHash, CancellationToken cancellationToken) =>
        database.WriteAsync((connection, transaction) =>
            Command(connection, transaction, "DELETE FROM web_sessions WHERE hash = @hash", ("hash", sessionHash)).ExecuteNonQueryAsync(cancellationToken), cancellationToken);

    public Task<bool> TryCreateRunAsync(long entityId, RunRecord run, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var (project, insert) = RunInserts(entityId, run);
            await ExecuteAsync(connection, transaction, [project, insert], cancellationToken);
            return insert.RecordsAffected == 1;
        }, cancellationToken);

    public Task<RunRecord?> GetRunAsync(long entityId, string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection => (await ReadRunAsync(connection, null, entityId, runId, forUpdate: false, cancellationToken))?.Run, cancellationToken);

    public Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            var parameters = new List<(string, object?)> { ("e", query.EntityId) };
            var where = RunWhere(query, parameters);
            var keyset = query.Sort is null && query.Offset is null;
            var order = query.Sort is { } sort ? RunOrder(sort, parameters) : "ORDER BY r.seq DESC";
            var page = "";
            if (keyset && query.Before is not null)
            {
                page = " AND r.seq < @before";
                parameters.Add(("before", query.Before));
            }

            parameters.AddRange([("limit", query.Limit + 1), ("offset", keyset ? 0 : query.Offset ?? 0)]);
            var runs = new List<RunRecord>();
            long? next = null;
            await using (var command = Command(connection, null, $"SELECT {RunColumns} {where}{page} {order} LIMIT @limit OFFSET @offset", [.. parameters]))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    if (runs.Count == query.Limit)
                    {
                        next = keyset ? ReadRun(reader).Seq + 1 : null;
                        break;
                    }

                    runs.Add(ReadRun(reader).Run);
                }
            }

            long? total = null;
            if (query.CountTotal)
            {
                await using var count = Command(connection, null, $"SELECT COUNT(*) FROM runs r JOIN projects p ON p.id = r.project_id {where}", [.. parameters]);
                total = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            }

            return new RunPage(runs, next, total);
        }, cancellationToken);

    /// <summary>The WHERE clause of a run listing, without paging; adds its parameters.</summary>
    private static string RunWhere(RunQuery query, List<(string, object?)> parameters)
    {
        var where = new System.Text.StringBuilder("WHERE r.entity_id = @e");
        if (query.Project is not null)
        {
            where.Append(" AND p.name = @project");
            parameters.Add(("project", query.Project));
        }

        if (query.State is not null)
        {
            where.Append(" AND r.state = @state");
            parameters.Add(("state", query.State));
        }

        if (query.Job is not null)
        {
            // A bare name matches every version ("name:vK"); "name:vK" matches that version only.
            where.Append(" AND r.id IN (SELECT i.run_id FROM items i WHERE i.entity_id = @e AND i.run_id IS NOT NULL AND (i.job = @job OR starts_with(i.job, @job || ':')))");
            parameters.Add(("job", query.Job));
        }

        if (query.Queue is not null)
        {
            where.Append(" AND r.id IN (SELECT i.run_id FROM items i JOIN queues q ON q.id = i.queue_id WHERE i.entity_id = @e AND i.run_id IS NOT NULL AND q.name = @queue)");
            parameters.Add(("queue", query.Queue));
        }

        foreach (var filter in query.Filters ?? [])
        {
            var value = $"@f{parameters.Count}";
            parameters.Add((value[1..], filter.Value));
            // Only a value of the filter's own type matches: a string never equals a number, a missing key nothing.
            var field = TypedField(filter.Field, filter.Value, parameters);
            if (field is null)
            {
                where.Append(" AND FALSE");
                continue;
            }

            var condition = filter.Operator switch
            {
                RunFilterOperator.Equal => $"{field} = {value}",
                RunFilterOperator.NotEqual => $"{field} <> {value}",
                RunFilterOperator.Less => $"{field} < {value}",
                RunFilterOperator.LessOrEqual => $"{field} <= {value}",
                RunFilterOperator.Greater => $"{field} > {value}",
                RunFilterOperator.GreaterOrEqual => $"{field} >= {value}",
                RunFilterOperator.Contains when filter.Value is string => $"strpos(lower({field}), lower({value})) > 0",
                RunFilterOperator.Contains => "FALSE",
                _ => throw new ArgumentOutOfRangeException(nameof(query), filter.Operator, "unknown filter operator"),
            };
            where.Append(" AND COALESCE(").Append(condition).Append(", FALSE)");
        }

        return where.ToString();
    }

    /// <summary>
    /// The field as SQL of the filter value's type (double precision, boolean, or text compared ordinally), NULL where the
    /// run's value has another type; null when the column never has the value's type.
    /// </summary>
    private static string? TypedField(RunField field, object value, List<(string, object?)> parameters)
    {
        if (field.Kind is RunFieldKind.Config or RunFieldKind.Summary)
        {
            var json = JsonField(field, parameters);
            return value switch
            {
                double => $"(CASE WHEN jsonb_typeof({json}) = 'number' THEN ({json})::double precision END)",
                bool => $"(CASE WHEN jsonb_typeof({json}) = 'boolean' THEN ({json})::boolean END)",
                _ => $"(CASE WHEN jsonb_typeof({json}) = 'string' THEN ({json} #>> '{{}}') END) COLLATE \"C\"",
            };
        }

        return (field.Kind, value) switch
        {
            (RunFieldKind.Name, string) => "r.name COLLATE \"C\"",
            (RunFieldKind.State, string) => "r.state COLLATE \"C\"",
            (RunFieldKind.CreatedAt, double) => "r.seq::double precision",
            (RunFieldKind.Duration, double) => Duration,
            (RunFieldKind.Name or RunFieldKind.State or RunFieldKind.CreatedAt or RunFieldKind.Duration, _) => null,
            _ => throw new ArgumentOutOfRangeException(nameof(field), field.Kind, "unknown run field"),
        };
    }

    /// <summary>Seconds from start (or creation) to end, or to the last sign of life.</summary>
    private const string Duration =
        "EXTRACT(EPOCH FROM (COALESCE(r.ended_at, r.heartbeat_at, r.started_at, r.created_at) - COALESCE(r.started_at, r.created_at)))::double precision";

    /// <summary>
    /// Runs without a value sort last in either direction, ties newest first. Config and summary values sort as SQLite's
    /// do: numbers (booleans as 0 and 1) before strings, strings ordinally.
    /// </summary>
    private static string RunOrder(RunSort sort, List<(string, object?)> parameters)
    {
        var direction = sort.Descending ? "DESC" : "ASC";
        if (sort.Field.Kind is RunFieldKind.Config or RunFieldKind.Summary)
        {
            var json = JsonField(sort.Field, parameters);
            var type = $"jsonb_typeof({json})";
            return $"ORDER BY {json} IS NULL, CASE {type} WHEN 'number' THEN 0 WHEN 'boolean' THEN 0 WHEN 'string' THEN 1 ELSE 2 END {direction}, "
                + $"CASE {type} WHEN 'number' THEN ({json})::double precision WHEN 'boolean' THEN CASE WHEN ({json})::boolean THEN 1 ELSE 0 END END {direction}, "
                + $"(CASE WHEN {type} = 'string' THEN {json} #>> '{{}}' END) COLLATE \"C\" {direction}, r.seq DESC";
        }

        var column = sort.Field.Kind switch
        {
            RunFieldKind.CreatedAt => "r.seq",
            RunFieldKind.Name => "r.name COLLATE \"C\"",
            RunFieldKind.State => "r.state COLLATE \"C\"",
            RunFieldKind.Duration => Duration,
            _ => throw new ArgumentOutOfRangeException(nameof(sort), sort.Field.Kind, "unknown run field"),
        };
        return $"ORDER BY {column} {direction} NULLS LAST, r.seq DESC";
    }

    /// <summary>The jsonb value at the field's keys (a parameter holds the path), SQL NULL where missing or JSON null.</summary>
    private static string JsonField(RunField field, List<(string, object?)> parameters)
    {
        if (field.Path.Count == 0 || field.Path.Any(k => k.Contains('"', StringComparison.Ordinal)))
        {
            throw new ArgumentException("a config or summary field names one or more keys without double quotes", nameof(field));
        }

        var name = $"p{parameters.Count}";
        parameters.Add((name, field.Path.ToArray()));
        return $"NULLIF(({(field.Kind == RunFieldKind.Config ? "r.config" : "r.summary")})::jsonb #> @{name}, 'null'::jsonb)";
    }

    public Task<RunRecord?> UpdateRunAsync(long entityId, string runId, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, forUpdate: true, cancellationToken);
            if (stored is null)
            {
                return null;
            }

            var updated = change(stored.Value.Run);
            await ExecuteAsync(connection, transaction, RunUpdate(stored.Value.Seq, stored.Value.Run, updated), cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<HistoryAppendResult?> AppendHistoryAsync(long entityId, string runId, IReadOnlyList<StoredHistoryRow> rows, Func<RunRecord, int, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            // The run's row lock orders concurrent batches of one run: the second sees the first's last step.
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, forUpdate: true, cancellationToken);
            if (stored is null)
            {
                return null;
            }

            var (seq, run) = stored.Value;
            var replayed = 0;
            while (replayed < rows.Count && rows[replayed].Step <= run.LastStep)
            {
                replayed++;
            }

            if (replayed > 0)
            {
                await EnsureReplayAsync(connection, transaction, seq, run, rows, replayed, cancellationToken);
            }

            var updated = change(run, replayed);
            var writes = new List<NpgsqlBatchCommand>(2);
            if (replayed < rows.Count)
            {
                var fresh = rows.Count - replayed;
                var steps = new long[fresh];
                var times = new double[fresh];
                var values = new string[fresh];
                for (var i = 0; i < fresh; i++)
                {
                    var row = rows[replayed + i];
                    (steps[i], times[i], values[i]) = (row.Step, row.Time, row.ValuesJson);
                }

                // One statement for the whole batch: the rows travel as three arrays and PostgreSQL unpacks them.
                writes.Add(Statement(
                    "INSERT INTO history (run_seq, step, time, data) SELECT @seq, s, t, d FROM unnest(@steps, @times, @values) AS b(s, t, d)",
                    ("seq", seq), ("steps", steps), ("times", times), ("values", values)));
                updated = updated with { LastStep = rows[^1].Step };
            }

            writes.AddRange(RunUpdate(seq, run, updated));
            await ExecuteAsync(connection, transaction, writes, cancellationToken);
            return new HistoryAppendResult(rows.Count - replayed, updated);
        }, cancellationToken);

    public Task<IReadOnlyList<StoredHistoryRow>> ReadHistoryAsync(string runId, long afterStep, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<StoredHistoryRow>>(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT h.step, h.time, h.data FROM history h JOIN runs r ON r.seq = h.run_seq
                WHERE r.id = @id AND h.step > @after ORDER BY h.step LIMIT @limit
                """, ("id", runId), ("after", afterStep), ("limit", limit));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var rows = new List<StoredHistoryRow>();
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new StoredHistoryRow(reader.GetInt64(0), reader.GetDouble(1), reader.GetString(2)));
            }

            return rows;
        }, cancellationToken);

    public Task<RunRecord?> AppendLogsAsync(long entityId, string runId, long offset, IReadOnlyList<StoredLogLine> lines, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, forUpdate: true, cancellationToken);
            if (stored is null)
            {
                return null;
            }

            var (seq, run) = stored.Value;
            if (offset > run.LogLines)
            {
                throw new StoreValidationException("offset", $"offset {offset} would leave a gap: the run has {run.LogLines} console lines, so the next offset is {run.LogLines}");
            }

            var updated = change(run);
            var writes = new List<NpgsqlBatchCommand>(2);
            if (lines.Count > 0)
            {
                // Only a retry reaches below the run's line count, and only there can an archive be in the way.
                if (offset < run.LogLines)
                {
                    await EnsureNotArchivedAsync(connection, transaction, seq, runId, offset, cancellationToken);
                }

                // A line number stored before keeps its first text: a client's retry must not rewrite the log.
                writes.Add(Statement("""
                    INSERT INTO console (run_seq, line, stream, text, time)
                    SELECT @seq, l, s, x, t FROM unnest(@lines, @streams, @texts, @times) AS b(l, s, x, t)
                    ON CONFLICT DO NOTHING
                    """,
                    ("seq", seq), ("lines", lines.Select(l => l.Line).ToArray()), ("streams", lines.Select(l => l.Stream).ToArray()),
                    ("texts", lines.Select(l => l.Text).ToArray()), ("times", lines.Select(l => l.Time).ToArray())));
                updated = updated with { LogLines = Math.Max(run.LogLines, offset + lines.Count) };
            }

            writes.AddRange(RunUpdate(seq, run, updated));
            await ExecuteAsync(connection, transaction, writes, cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<RunRecord?> WriteLogsAsync(long entityId, string runId, IReadOnlyList<StoredLogLine> lines, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, forUpdate: true, cancellationToken);
            if (stored is null)
            {
                return null;
            }

            var (seq, run) = stored.Value;
            var updated = change(run);
            var writes = new List<NpgsqlBatchCommand>(2);
            if (lines.Count > 0)
            {
                // One upsert may touch a row once: of a line number sent twice in the batch, the later text stands.
                var last = new Dictionary<long, StoredLogLine>();
                foreach (var line in lines)
                {
                    last[line.Line] = line;
                }

                if (last.Keys.Min() is var lowest && lowest < run.LogLines)
                {
                    await EnsureNotArchivedAsync(connection, transaction, seq, runId, lowest, cancellationToken);
                }

                var unique = last.Values.ToArray();
                writes.Add(Statement("""
                    INSERT INTO console (run_seq, line, stream, text, time)
                    SELECT @seq, l, s, x, t FROM unnest(@lines, @streams, @texts, @times) AS b(l, s, x, t)
                    ON CONFLICT (run_seq, line) DO UPDATE SET stream = excluded.stream, text = excluded.text, time = excluded.time
                    """,
                    ("seq", seq), ("lines", unique.Select(l => l.Line).ToArray()), ("streams", unique.Select(l => l.Stream).ToArray()),
                    ("texts", unique.Select(l => l.Text).ToArray()), ("times", unique.Select(l => l.Time).ToArray())));
                updated = updated with { LogLines = Math.Max(run.LogLines, last.Keys.Max() + 1) };
            }

            writes.AddRange(RunUpdate(seq, run, updated));
            await ExecuteAsync(connection, transaction, writes, cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<IReadOnlyList<StoredLogLine>> ReadLogsAsync(string runId, long afterLine, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<StoredLogLine>>(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT c.line, c.stream, c.text, c.time FROM console c JOIN runs r ON r.seq = c.run_seq
                WHERE r.id = @id AND c.line > @after ORDER BY c.line LIMIT @limit
                """, ("id", runId), ("after", afterLine), ("limit", limit));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var lines = new List<StoredLogLine>();
            while (await reader.ReadAsync(cancellationToken))
            {
                lines.Add(new StoredLogLine(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetDouble(3)));
            }

            return lines;
        }, cancellationToken);

    public Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ProjectRecord>>(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT e.name, p.name, p.created_at, (SELECT COUNT(*) FROM runs r WHERE r.project_id = p.id)
                FROM projects p JOIN entities e ON e.id = p.entity_id WHERE p.entity_id = @e ORDER BY p.name
                """, ("e", entityId));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var projects = new List<ProjectRecord>();
            while (await reader.ReadAsync(cancellationToken))
            {
                projects.Add(new ProjectRecord(reader.GetString(0), reader.GetString(1), Time(reader, 2), reader.GetInt64(3)));
            }

            return projects;
        }, cancellationToken);

    public Task<IReadOnlyList<string>> CrashSilentRunsAsync(DateTimeOffset silentSince, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync<IReadOnlyList<string>>(async (connection, transaction) =>
        {
            // PostgreSQL re-checks the condition on a row another transaction just changed, so a run whose heartbeat
            // commits first (on any replica) is not crashed.
            await using var command = Command(connection, transaction,
                $"UPDATE runs SET state = '{RunStates.Crashed}', ended_at = @now WHERE state = '{RunStates.Running}' AND crash_on_silence AND heartbeat_at < @since RETURNING id",
                ("now", now), ("since", silentSince));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var ids = new List<string>();
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }

            return ids;
        }, cancellationToken);

    /// <summary>A run's insert, after its project's (created on first use); the insert affects no row when the id is taken.</summary>
    private static (NpgsqlBatchCommand Project, NpgsqlBatchCommand Run) RunInserts(long entityId, RunRecord run) => (
        Statement("INSERT INTO projects (entity_id, name, created_at) VALUES (@e, @name, @at) ON CONFLICT (entity_id, name) DO NOTHING",
            ("e", entityId), ("name", run.Project), ("at", run.CreatedAt)),
        Statement("""
            INSERT INTO runs (id, entity_id, project_id, name, state, config, summary, host, os, program, python_version,
                exit_code, created_at, started_at, ended_at, heartbeat_at, stop_requested, last_step, log_lines, crash_on_silence, wandb)
            VALUES (@id, @e, (SELECT p.id FROM projects p WHERE p.entity_id = @e AND p.name = @project), @name, @state, @config, @summary,
                @host, @os, @program, @python, @exit, @created, @started, @ended, @heartbeat, @stop, NULL, 0, @crash, @wandb)
            ON CONFLICT (id) DO NOTHING
            """,
            ("id", run.Id), ("e", entityId), ("project", run.Project), ("name", run.Name), ("state", run.State),
            ("config", run.ConfigJson), ("summary", run.SummaryJson), ("host", run.Host), ("os", run.Os),
            ("program", run.Program), ("python", run.PythonVersion), ("exit", run.ExitCode),
            ("created", run.CreatedAt), ("started", run.StartedAt), ("ended", run.EndedAt),
            ("heartbeat", run.HeartbeatAt), ("stop", run.StopRequested), ("crash", run.CrashOnSilence), ("wandb", run.WandbJson)));

    private static async Task EnsureReplayAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long seq, RunRecord run, IReadOnlyList<StoredHistoryRow> rows, int replayed, CancellationToken cancellationToken)
    {
        var stored = (long)(await Command(connection, transaction,
            "SELECT COUNT(*) FROM history WHERE run_seq = @seq AND step >= @first AND step <= @last",
            ("seq", seq), ("first", rows[0].Step), ("last", rows[replayed - 1].Step)).ExecuteScalarAsync(cancellationToken))!;
        if (stored != replayed)
        {
            throw new StoreValidationException("rows", $"history rows out of order: step {rows[0].Step} is not after the run's last step {run.LastStep}");
        }
    }

    /// <summary>The run's update, or nothing when the change left it as it was.</summary>
    private static IEnumerable<NpgsqlBatchCommand> RunUpdate(long seq, RunRecord before, RunRecord after)
    {
        if (ReferenceEquals(before, after))
        {
            yield break;
        }

        yield return Statement("""
            UPDATE runs SET name = @name, state = @state, config = @config, summary = @summary, host = @host, os = @os,
                program = @program, python_version = @python, exit_code = @exit, started_at = @started, ended_at = @ended,
                heartbeat_at = @heartbeat, stop_requested = @stop, last_step = @last, log_lines = @lines,
                crash_on_silence = @crash, wandb = @wandb
            WHERE seq = @seq
            """,
            ("name", after.Name), ("state", after.State), ("config", after.ConfigJson), ("summary", after.SummaryJson),
            ("host", after.Host), ("os", after.Os), ("program", after.Program), ("python", after.PythonVersion),
            ("exit", after.ExitCode), ("started", after.StartedAt), ("ended", after.EndedAt),
            ("heartbeat", after.HeartbeatAt), ("stop", after.StopRequested), ("last", after.LastStep),
            ("lines", after.LogLines), ("crash", after.CrashOnSilence), ("wandb", after.WandbJson), ("seq", seq));
    }

    private static async Task<(long Seq, RunRecord Run)?> ReadRunAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, long entityId, string runId, bool forUpdate, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            $"SELECT {RunColumns} WHERE r.id = @id AND r.entity_id = @e{(forUpdate ? " FOR UPDATE OF r" : "")}", ("id", runId), ("e", entityId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRun(reader) : null;
    }

    private static (long Seq, RunRecord Run) ReadRun(NpgsqlDataReader reader) => (reader.GetInt64(0), new RunRecord(
        Id: reader.GetString(1),
        Entity: reader.GetString(2),
        Project: reader.GetString(3),
        Name: reader.GetString(4),
        State: reader.GetString(5),
        ConfigJson: reader.GetString(6),
        SummaryJson: reader.GetString(7),
        Host: NullableString(reader, 8),
        Os: NullableString(reader, 9),
        Program: NullableString(reader, 10),
        PythonVersion: NullableString(reader, 11),
        ExitCode: reader.IsDBNull(12) ? null : reader.GetInt32(12),
        CreatedAt: Time(reader, 13),
        StartedAt: NullableTime(reader, 14),
        EndedAt: NullableTime(reader, 15),
        HeartbeatAt: NullableTime(reader, 16),
        StopRequested: reader.GetBoolean(17),
        LastStep: reader.IsDBNull(18) ? null : reader.GetInt64(18),
        LogLines: reader.GetInt64(19),
        CrashOnSilence: reader.GetBoolean(20),
        WandbJson: NullableString(reader, 21)));

    private static async Task<EntityRecord?> ReadEntityAsync(NpgsqlConnection connection, string where, (string, object?) parameter, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, $"SELECT id, name, admin, created_at FROM entities {where}", parameter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new EntityRecord(reader.GetInt64(0), reader.GetString(1), reader.GetBoolean(2), Time(reader, 3))
            : null;
    }

    private static Task InsertKeyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long entityId, NewKey key, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, [KeyInsert(entityId, key)], cancellationToken);

    private static NpgsqlBatchCommand KeyInsert(long entityId, NewKey key) =>
        Statement("INSERT INTO api_keys (id, entity_id, name, key_hash, created_at, run_id) VALUES (@id, @e, @name, @hash, @at, @run)",
            ("id", key.Id), ("e", entityId), ("name", key.Name), ("hash", key.Hash), ("at", key.CreatedAt), ("run", key.RunId));

    /// <summary>A command with named parameters (see <see cref="Value"/>).</summary>
    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, Value(value));
        }

        return command;
    }

    /// <summary>One statement of the writes that follow a transaction's reads, sent together by <see cref="ExecuteAsync"/>.</summary>
    private static NpgsqlBatchCommand Statement(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, Value(value));
        }

        return command;
    }

    /// <summary>
    /// Sends the statements in one round trip (a write is then one lock-taking read, one batch and the commit, however
    /// many rows it touches); each statement's <see cref="NpgsqlBatchCommand.RecordsAffected"/> is set afterwards.
    /// </summary>
    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<NpgsqlBatchCommand> statements, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var statement in statements)
        {
            batch.BatchCommands.Add(statement);
        }

        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Times are written as UTC (timestamptz takes no other offset); nulls go untyped, so PostgreSQL takes their type from
    /// where they stand (every nullable parameter sits in a VALUES list or a SET).
    /// </summary>
    private static object Value(object? value) => value switch
    {
        null => DBNull.Value,
        DateTimeOffset time => time.ToUniversalTime(),
        _ => value,
    };

    private static DateTimeOffset Time(NpgsqlDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);

    private static DateTimeOffset? NullableTime(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader, ordinal);

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
