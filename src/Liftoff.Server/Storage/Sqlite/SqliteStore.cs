using Liftoff.Contracts;
using Liftoff.Core.Runs;
using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>The embedded store: one SQLite file in the data directory.</summary>
internal sealed partial class SqliteStore(SqliteDatabase database) : IIdentityStore, IRunStore
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
            long id;
            try
            {
                id = (long)(await Command(connection, transaction,
                    "INSERT INTO entities (name, admin, created_at) VALUES ($name, $admin, $at) RETURNING id",
                    ("$name", name), ("$admin", admin), ("$at", Ms(createdAt))).ScalarAsync(cancellationToken))!;
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
            {
                throw new DuplicateException($"the name '{name}' is taken");
            }

            await InsertKeyAsync(connection, transaction, id, firstKey, cancellationToken);
            return new EntityRecord(id, name, admin, createdAt);
        }, cancellationToken);

    public Task<EntityRecord?> FindEntityAsync(string name, CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadEntityAsync(connection, "WHERE name = $name", ("$name", name), cancellationToken), cancellationToken);

    public Task<EntityRecord?> FindAdminAsync(CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadEntityAsync(connection, "WHERE admin = $admin ORDER BY id LIMIT 1", ("$admin", true), cancellationToken), cancellationToken);

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
                WHERE k.key_hash = $hash AND k.revoked_at IS NULL
                """, ("$hash", keyHash));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? new KeyPrincipal(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetBoolean(3), NullableString(reader, 4))
                : null;
        }, cancellationToken);

    public Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ApiKeyRecord>>(async connection =>
        {
            await using var command = Command(connection, null,
                "SELECT id, name, created_at, revoked_at FROM api_keys WHERE entity_id = $e AND run_id IS NULL ORDER BY created_at, id", ("$e", entityId));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var keys = new List<ApiKeyRecord>();
            while (await reader.ReadAsync(cancellationToken))
            {
                keys.Add(new ApiKeyRecord(reader.GetString(0), entityId, reader.GetString(1), Time(reader.GetInt64(2)), NullableTime(reader, 3)));
            }

            return keys;
        }, cancellationToken);

    public Task<bool> RevokeKeyAsync(long entityId, string keyId, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var changed = await Command(connection, transaction,
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $at) WHERE id = $id AND entity_id = $e",
                ("$at", Ms(at)), ("$id", keyId), ("$e", entityId)).RunAsync(cancellationToken);
            return changed == 1;
        }, cancellationToken);

    public Task CreateSessionAsync(NewSession session, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            await Command(connection, transaction, "DELETE FROM web_sessions WHERE expires_at <= $now", ("$now", Ms(session.CreatedAt))).RunAsync(cancellationToken);
            await Command(connection, transaction,
                "INSERT INTO web_sessions (hash, key_id, created_at, expires_at) VALUES ($hash, $key, $at, $expires)",
                ("$hash", session.Hash), ("$key", session.KeyId), ("$at", Ms(session.CreatedAt)), ("$expires", Ms(session.ExpiresAt))).RunAsync(cancellationToken);
            return 0;
        }, cancellationToken);

    public Task<KeyPrincipal?> FindSessionAsync(string sessionHash, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT k.id, e.id, e.name, e.admin, k.run_id FROM web_sessions s
                JOIN api_keys k ON k.id = s.key_id JOIN entities e ON e.id = k.entity_id
                WHERE s.hash = $hash AND s.expires_at > $now AND k.revoked_at IS NULL
                """, ("$hash", sessionHash), ("$now", Ms(now)));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken)
                ? new KeyPrincipal(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetBoolean(3), NullableString(reader, 4))
                : null;
        }, cancellationToken);

    public Task DeleteSessionAsync(string sessionHash, CancellationToken cancellationToken) =>
        database.WriteAsync((connection, transaction) =>
            Command(connection, transaction, "DELETE FROM web_sessions WHERE hash = $hash", ("$hash", sessionHash)).RunAsync(cancellationToken), cancellationToken);

    public Task<bool> TryCreateRunAsync(long entityId, RunRecord run, CancellationToken cancellationToken) =>
        database.WriteAsync((connection, transaction) => InsertRunAsync(connection, transaction, entityId, run, cancellationToken), cancellationToken);

    public Task<RunRecord?> GetRunAsync(long entityId, string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection => (await ReadRunAsync(connection, null, entityId, runId, cancellationToken))?.Run, cancellationToken);

    public Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken) =>
        database.ReadAsync(async connection =>
        {
            var parameters = new List<(string, object?)> { ("$e", query.EntityId) };
            var where = RunWhere(query, parameters);
            var keyset = query.Sort is null && query.Offset is null;
            var order = query.Sort is { } sort
                ? $"ORDER BY ({RunFieldSql(sort.Field, parameters)}) IS NULL, {RunFieldSql(sort.Field, parameters)} {(sort.Descending ? "DESC" : "ASC")}, r.seq DESC"
                : "ORDER BY r.seq DESC";
            var page = keyset && query.Before is not null ? " AND r.seq < $before" : "";
            parameters.AddRange([("$before", query.Before), ("$limit", query.Limit + 1), ("$offset", keyset ? 0 : query.Offset ?? 0)]);
            var runs = new List<RunRecord>();
            long? next = null;
            await using (var command = Command(connection, null, $"SELECT {RunColumns} {where}{page} {order} LIMIT $limit OFFSET $offset", [.. parameters]))
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
        var where = new System.Text.StringBuilder("WHERE r.entity_id = $e");
        if (query.Project is not null)
        {
            where.Append(" AND p.name = $project");
            parameters.Add(("$project", query.Project));
        }

        if (query.State is not null)
        {
            where.Append(" AND r.state = $state");
            parameters.Add(("$state", query.State));
        }

        if (query.Job is not null)
        {
            // A bare name matches every version ("name:vK"); "name:vK" matches that version only.
            where.Append(" AND r.id IN (SELECT i.run_id FROM items i WHERE i.entity_id = $e AND i.run_id IS NOT NULL AND (i.job = $job OR substr(i.job, 1, length($job) + 1) = $job || ':'))");
            parameters.Add(("$job", query.Job));
        }

        if (query.Queue is not null)
        {
            where.Append(" AND r.id IN (SELECT i.run_id FROM items i JOIN queues q ON q.id = i.queue_id WHERE i.entity_id = $e AND i.run_id IS NOT NULL AND q.name = $queue)");
            parameters.Add(("$queue", query.Queue));
        }

        foreach (var filter in query.Filters ?? [])
        {
            var field = RunFieldSql(filter.Field, parameters);
            var value = $"$f{parameters.Count}";
            parameters.Add((value, filter.Value is bool b ? (b ? 1 : 0) : filter.Value));
            var type = filter.Field.Kind is RunFieldKind.Config or RunFieldKind.Summary
                ? $"json_type({(filter.Field.Kind == RunFieldKind.Config ? "r.config" : "r.summary")}, {JsonPathParameter(filter.Field, parameters)})"
                : null;
            // Only a value of the filter's own type matches: a string never equals a number, a missing key nothing.
            var typed = (type, filter.Value) switch
            {
                (null, _) => "",
                (_, double) => $"{type} IN ('integer', 'real') AND ",
                (_, bool) => $"{type} IN ('true', 'false') AND ",
                _ => $"{type} = 'text' AND ",
            };
            var condition = filter.Operator switch
            {
                RunFilterOperator.Equal => $"{field} = {value}",
                RunFilterOperator.NotEqual => $"{field} <> {value}",
                RunFilterOperator.Less => $"{field} < {value}",
                RunFilterOperator.LessOrEqual => $"{field} <= {value}",
                RunFilterOperator.Greater => $"{field} > {value}",
                RunFilterOperator.GreaterOrEqual => $"{field} >= {value}",
                RunFilterOperator.Contains => $"instr(lower({field}), lower({value})) > 0",
                _ => throw new ArgumentOutOfRangeException(nameof(query), filter.Operator, "unknown filter operator"),
            };
            where.Append(" AND (").Append(typed).Append(condition).Append(')');
        }

        return where.ToString();
    }

    private static string RunFieldSql(RunField field, List<(string, object?)> parameters) => field.Kind switch
    {
        RunFieldKind.CreatedAt => "r.seq",
        RunFieldKind.Name => "r.name",
        RunFieldKind.State => "r.state",
        RunFieldKind.Duration => "(COALESCE(r.ended_at, r.heartbeat_at, r.started_at, r.created_at) - COALESCE(r.started_at, r.created_at))",
        RunFieldKind.Config => $"json_extract(r.config, {JsonPathParameter(field, parameters)})",
        RunFieldKind.Summary => $"json_extract(r.summary, {JsonPathParameter(field, parameters)})",
        _ => throw new ArgumentOutOfRangeException(nameof(field), field.Kind, "unknown run field"),
    };

    /// <summary>A parameter holding the SQLite JSON path of the field's keys, each quoted so dots and spaces in names are safe.</summary>
    private static string JsonPathParameter(RunField field, List<(string, object?)> parameters)
    {
        if (field.Path.Count == 0 || field.Path.Any(k => k.Contains('"', StringComparison.Ordinal)))
        {
            throw new ArgumentException("a config or summary field names one or more keys without double quotes", nameof(field));
        }

        var name = $"$p{parameters.Count}";
        parameters.Add((name, "$" + string.Concat(field.Path.Select(k => $".\"{k}\""))));
        return name;
    }

    public Task<RunRecord?> UpdateRunAsync(long entityId, string runId, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, cancellationToken);
            if (stored is null)
            {
                return null;
            }

            var updated = change(stored.Value.Run);
            await WriteRunAsync(connection, transaction, stored.Value.Seq, stored.Value.Run, updated, cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<HistoryAppendResult?> AppendHistoryAsync(long entityId, string runId, IReadOnlyList<StoredHistoryRow> rows, Func<RunRecord, int, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, cancellationToken);
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
            if (replayed < rows.Count)
            {
                await using var insert = Command(connection, transaction,
                    "INSERT INTO history (run_seq, step, time, data) VALUES ($seq, $step, $time, $data)",
                    ("$seq", seq), ("$step", 0L), ("$time", 0.0), ("$data", ""));
                insert.Prepare();
                for (var i = replayed; i < rows.Count; i++)
                {
                    insert.Parameters[1].Value = rows[i].Step;
                    insert.Parameters[2].Value = rows[i].Time;
                    insert.Parameters[3].Value = rows[i].ValuesJson;
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                }

                updated = updated with { LastStep = rows[^1].Step };
            }

            await WriteRunAsync(connection, transaction, seq, run, updated, cancellationToken);
            return new HistoryAppendResult(rows.Count - replayed, updated);
        }, cancellationToken);

    public Task<IReadOnlyList<StoredHistoryRow>> ReadHistoryAsync(string runId, long afterStep, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<StoredHistoryRow>>(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT h.step, h.time, h.data FROM history h JOIN runs r ON r.seq = h.run_seq
                WHERE r.id = $id AND h.step > $after ORDER BY h.step LIMIT $limit
                """, ("$id", runId), ("$after", afterStep), ("$limit", limit));
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
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, cancellationToken);
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
            if (lines.Count > 0)
            {
                // Only a retry reaches below the run's line count, and only there can an archive be in the way.
                if (offset < run.LogLines)
                {
                    await EnsureNotArchivedAsync(connection, transaction, seq, runId, offset, cancellationToken);
                }

                await using var insert = Command(connection, transaction,
                    "INSERT INTO console (run_seq, line, stream, text, time) VALUES ($seq, $line, $stream, $text, $time) ON CONFLICT DO NOTHING",
                    ("$seq", seq), ("$line", 0L), ("$stream", ""), ("$text", ""), ("$time", 0.0));
                insert.Prepare();
                foreach (var line in lines)
                {
                    insert.Parameters[1].Value = line.Line;
                    insert.Parameters[2].Value = line.Stream;
                    insert.Parameters[3].Value = line.Text;
                    insert.Parameters[4].Value = line.Time;
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                }

                updated = updated with { LogLines = Math.Max(run.LogLines, offset + lines.Count) };
            }

            await WriteRunAsync(connection, transaction, seq, run, updated, cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<RunRecord?> WriteLogsAsync(long entityId, string runId, IReadOnlyList<StoredLogLine> lines, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var stored = await ReadRunAsync(connection, transaction, entityId, runId, cancellationToken);
            if (stored is null)
            {
                return null;
            }

            var (seq, run) = stored.Value;
            var updated = change(run);
            if (lines.Count > 0)
            {
                if (lines.Min(l => l.Line) is var lowest && lowest < run.LogLines)
                {
                    await EnsureNotArchivedAsync(connection, transaction, seq, runId, lowest, cancellationToken);
                }

                await using var upsert = Command(connection, transaction, """
                    INSERT INTO console (run_seq, line, stream, text, time) VALUES ($seq, $line, $stream, $text, $time)
                    ON CONFLICT (run_seq, line) DO UPDATE SET stream = excluded.stream, text = excluded.text, time = excluded.time
                    """,
                    ("$seq", seq), ("$line", 0L), ("$stream", ""), ("$text", ""), ("$time", 0.0));
                upsert.Prepare();
                foreach (var line in lines)
                {
                    upsert.Parameters[1].Value = line.Line;
                    upsert.Parameters[2].Value = line.Stream;
                    upsert.Parameters[3].Value = line.Text;
                    upsert.Parameters[4].Value = line.Time;
                    await upsert.ExecuteNonQueryAsync(cancellationToken);
                }

                updated = updated with { LogLines = Math.Max(run.LogLines, lines.Max(l => l.Line) + 1) };
            }

            await WriteRunAsync(connection, transaction, seq, run, updated, cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<IReadOnlyList<StoredLogLine>> ReadLogsAsync(string runId, long afterLine, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<StoredLogLine>>(async connection =>
        {
            await using var command = Command(connection, null, """
                SELECT c.line, c.stream, c.text, c.time FROM console c JOIN runs r ON r.seq = c.run_seq
                WHERE r.id = $id AND c.line > $after ORDER BY c.line LIMIT $limit
                """, ("$id", runId), ("$after", afterLine), ("$limit", limit));
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
                FROM projects p JOIN entities e ON e.id = p.entity_id WHERE p.entity_id = $e ORDER BY p.name
                """, ("$e", entityId));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var projects = new List<ProjectRecord>();
            while (await reader.ReadAsync(cancellationToken))
            {
                projects.Add(new ProjectRecord(reader.GetString(0), reader.GetString(1), Time(reader.GetInt64(2)), reader.GetInt64(3)));
            }

            return projects;
        }, cancellationToken);

    public Task<IReadOnlyList<string>> CrashSilentRunsAsync(DateTimeOffset silentSince, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync<IReadOnlyList<string>>(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction,
                $"UPDATE runs SET state = '{RunStates.Crashed}', ended_at = $now WHERE state = '{RunStates.Running}' AND crash_on_silence = 1 AND heartbeat_at < $since RETURNING id",
                ("$now", Ms(now)), ("$since", Ms(silentSince)));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var ids = new List<string>();
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }

            return ids;
        }, cancellationToken);

    /// <summary>Inserts a run, creating its project on first use; false when the id is taken.</summary>
    private static async Task<bool> InsertRunAsync(SqliteConnection connection, SqliteTransaction transaction, long entityId, RunRecord run, CancellationToken cancellationToken)
    {
        await Command(connection, transaction,
            "INSERT INTO projects (entity_id, name, created_at) VALUES ($e, $name, $at) ON CONFLICT (entity_id, name) DO NOTHING",
            ("$e", entityId), ("$name", run.Project), ("$at", Ms(run.CreatedAt))).RunAsync(cancellationToken);
        var inserted = await Command(connection, transaction, """
            INSERT INTO runs (id, entity_id, project_id, name, state, config, summary, host, os, program, python_version,
                exit_code, created_at, started_at, ended_at, heartbeat_at, stop_requested, last_step, log_lines,
                crash_on_silence, wandb)
            SELECT $id, $e, p.id, $name, $state, $config, $summary, $host, $os, $program, $python,
                $exit, $created, $started, $ended, $heartbeat, $stop, NULL, 0, $crash, $wandb
            FROM projects p WHERE p.entity_id = $e AND p.name = $project
            ON CONFLICT (id) DO NOTHING
            """,
            ("$id", run.Id), ("$e", entityId), ("$project", run.Project), ("$name", run.Name), ("$state", run.State),
            ("$config", run.ConfigJson), ("$summary", run.SummaryJson), ("$host", run.Host), ("$os", run.Os),
            ("$program", run.Program), ("$python", run.PythonVersion), ("$exit", run.ExitCode),
            ("$created", Ms(run.CreatedAt)), ("$started", Ms(run.StartedAt)), ("$ended", Ms(run.EndedAt)),
            ("$heartbeat", Ms(run.HeartbeatAt)), ("$stop", run.StopRequested), ("$crash", run.CrashOnSilence),
            ("$wandb", run.WandbJson)).RunAsync(cancellationToken);
        return inserted == 1;
    }

    private static async Task EnsureReplayAsync(SqliteConnection connection, SqliteTransaction transaction, long seq, RunRecord run, IReadOnlyList<StoredHistoryRow> rows, int replayed, CancellationToken cancellationToken)
    {
        var stored = (long)(await Command(connection, transaction,
            "SELECT COUNT(*) FROM history WHERE run_seq = $seq AND step >= $first AND step <= $last",
            ("$seq", seq), ("$first", rows[0].Step), ("$last", rows[replayed - 1].Step)).ScalarAsync(cancellationToken))!;
        if (stored != replayed)
        {
            throw new StoreValidationException("rows", $"history rows out of order: step {rows[0].Step} is not after the run's last step {run.LastStep}");
        }
    }

    private static async Task WriteRunAsync(SqliteConnection connection, SqliteTransaction transaction, long seq, RunRecord before, RunRecord after, CancellationToken cancellationToken)
    {
        if (ReferenceEquals(before, after))
        {
            return;
        }

        await Command(connection, transaction, """
            UPDATE runs SET name = $name, state = $state, config = $config, summary = $summary, host = $host, os = $os,
                program = $program, python_version = $python, exit_code = $exit, started_at = $started, ended_at = $ended,
                heartbeat_at = $heartbeat, stop_requested = $stop, last_step = $last, log_lines = $lines,
                crash_on_silence = $crash, wandb = $wandb
            WHERE seq = $seq
            """,
            ("$name", after.Name), ("$state", after.State), ("$config", after.ConfigJson), ("$summary", after.SummaryJson),
            ("$host", after.Host), ("$os", after.Os), ("$program", after.Program), ("$python", after.PythonVersion),
            ("$exit", after.ExitCode), ("$started", Ms(after.StartedAt)), ("$ended", Ms(after.EndedAt)),
            ("$heartbeat", Ms(after.HeartbeatAt)), ("$stop", after.StopRequested), ("$last", after.LastStep),
            ("$lines", after.LogLines), ("$crash", after.CrashOnSilence), ("$wandb", after.WandbJson),
            ("$seq", seq)).RunAsync(cancellationToken);
    }

    private static async Task<(long Seq, RunRecord Run)?> ReadRunAsync(SqliteConnection connection, SqliteTransaction? transaction, long entityId, string runId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"SELECT {RunColumns} WHERE r.id = $id AND r.entity_id = $e", ("$id", runId), ("$e", entityId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRun(reader) : null;
    }

    private static (long Seq, RunRecord Run) ReadRun(SqliteDataReader reader) => (reader.GetInt64(0), new RunRecord(
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
        CreatedAt: Time(reader.GetInt64(13)),
        StartedAt: NullableTime(reader, 14),
        EndedAt: NullableTime(reader, 15),
        HeartbeatAt: NullableTime(reader, 16),
        StopRequested: reader.GetBoolean(17),
        LastStep: reader.IsDBNull(18) ? null : reader.GetInt64(18),
        LogLines: reader.GetInt64(19),
        CrashOnSilence: reader.GetBoolean(20),
        WandbJson: NullableString(reader, 21)));

    private static async Task<EntityRecord?> ReadEntityAsync(SqliteConnection connection, string where, (string, object?) parameter, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, $"SELECT id, name, admin, created_at FROM entities {where}", parameter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new EntityRecord(reader.GetInt64(0), reader.GetString(1), reader.GetBoolean(2), Time(reader.GetInt64(3)))
            : null;
    }

    private static Task InsertKeyAsync(SqliteConnection connection, SqliteTransaction transaction, long entityId, NewKey key, CancellationToken cancellationToken) =>
        Command(connection, transaction,
            "INSERT INTO api_keys (id, entity_id, name, key_hash, created_at, run_id) VALUES ($id, $e, $name, $hash, $at, $run)",
            ("$id", key.Id), ("$e", entityId), ("$name", key.Name), ("$hash", key.Hash), ("$at", Ms(key.CreatedAt)), ("$run", key.RunId)).RunAsync(cancellationToken);

    private static SqliteStatement Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters) =>
        SqliteStatements.Get(connection, transaction, sql, parameters);

    private static long? Ms(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    private static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static DateTimeOffset? NullableTime(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetInt64(ordinal));

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
