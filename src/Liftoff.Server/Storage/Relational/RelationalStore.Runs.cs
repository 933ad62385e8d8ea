using System.Text;
using Liftoff.Contracts;
using Liftoff.Core.Runs;

namespace Liftoff.Server.Storage.Relational;

internal sealed partial class RelationalStore : IRunStore
{
    private const string RunColumns = """
        r.seq, r.id, e.name, p.name, r.name, r.state, r.config, r.summary, r.host, r.os, r.program, r.python_version,
        r.exit_code, r.created_at, r.started_at, r.ended_at, r.heartbeat_at, r.stop_requested, r.last_step, r.log_lines,
        r.crash_on_silence, r.wandb
        FROM runs r JOIN entities e ON e.id = r.entity_id JOIN projects p ON p.id = r.project_id
        """;

    public async Task<bool> TryCreateRunAsync(long entityId, RunRecord run, CancellationToken cancellationToken)
    {
        var created = await database.WriteAsync(async session => (await session.ExecuteAsync(RunInserts(entityId, run), cancellationToken))[^1] == 1, cancellationToken);
        if (created)
        {
            database.Metrics?.RunChanged(null, run);
        }

        return created;
    }

    public Task<RunRecord?> GetRunAsync(long entityId, string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(async session => (await ReadRunAsync(session, entityId, runId, forUpdate: false, cancellationToken))?.Run, cancellationToken);

    public Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken) =>
        database.ReadAsync(async session =>
        {
            var parameters = new List<(string, object?)> { ("@e", query.EntityId) };
            var where = RunWhere(query, parameters);
            var keyset = query.Sort is null && query.Offset is null;
            var order = query.Sort is { } sort ? RunOrder(sort, parameters) : "ORDER BY r.seq DESC";
            var page = "";
            if (keyset && query.Before is not null)
            {
                page = " AND r.seq < @before";
                parameters.Add(("@before", query.Before));
            }

            parameters.AddRange([("@limit", query.Limit + 1), ("@offset", keyset ? 0 : query.Offset ?? 0)]);
            var rows = await session.ListAsync($"SELECT {RunColumns} {where}{page} {order} LIMIT @limit OFFSET @offset", RunRow, cancellationToken, [.. parameters]);
            long? next = null;
            if (rows.Count > query.Limit)
            {
                next = keyset ? rows[query.Limit].Seq + 1 : null;
                rows.RemoveAt(query.Limit);
            }

            long? total = query.CountTotal
                ? (long)(await session.ScalarAsync($"SELECT COUNT(*) FROM runs r JOIN projects p ON p.id = r.project_id {where}", cancellationToken, [.. parameters]))!
                : null;
            return new RunPage([.. rows.Select(r => r.Run)], next, total);
        }, cancellationToken);

    /// <summary>The WHERE clause of a run listing, without paging; adds its parameters.</summary>
    private string RunWhere(RunQuery query, List<(string, object?)> parameters)
    {
        var where = new StringBuilder("WHERE r.entity_id = @e");
        if (query.Project is not null)
        {
            where.Append(" AND p.name = @project");
            parameters.Add(("@project", query.Project));
        }

        if (query.State is not null)
        {
            where.Append(" AND r.state = @state");
            parameters.Add(("@state", query.State));
        }

        if (query.Job is not null)
        {
            // A bare name matches every version ("name:vK"); "name:vK" matches that version only.
            where.Append(" AND r.id IN (SELECT i.run_id FROM items i WHERE i.entity_id = @e AND i.run_id IS NOT NULL AND (i.job = @job OR substr(i.job, 1, length(@job) + 1) = @job || ':'))");
            parameters.Add(("@job", query.Job));
        }

        if (query.Queue is not null)
        {
            where.Append(" AND r.id IN (SELECT i.run_id FROM items i JOIN queues q ON q.id = i.queue_id WHERE i.entity_id = @e AND i.run_id IS NOT NULL AND q.name = @queue)");
            parameters.Add(("@queue", query.Queue));
        }

        foreach (var filter in query.Filters ?? [])
        {
            var value = $"@f{parameters.Count}";
            parameters.Add((value, filter.Value));
            // Only a value of the filter's own type matches: a string never equals a number, a missing key nothing.
            var field = TypedField(filter.Field, filter.Value, parameters);
            var condition = field is null ? "FALSE" : filter.Operator switch
            {
                RunFilterOperator.Equal => $"{field} = {value}",
                RunFilterOperator.NotEqual => $"{field} <> {value}",
                RunFilterOperator.Less => $"{field} < {value}",
                RunFilterOperator.LessOrEqual => $"{field} <= {value}",
                RunFilterOperator.Greater => $"{field} > {value}",
                RunFilterOperator.GreaterOrEqual => $"{field} >= {value}",
                RunFilterOperator.Contains when filter.Value is string => database.ContainsIgnoringCase(field, value),
                RunFilterOperator.Contains => "FALSE",
                _ => throw new ArgumentOutOfRangeException(nameof(query), filter.Operator, "unknown filter operator"),
            };
            where.Append(" AND COALESCE(").Append(condition).Append(", FALSE)");
        }

        return where.ToString();
    }

    /// <summary>
    /// The field as SQL of the filter value's type (a double, a boolean, or text compared ordinally), NULL where the
    /// run's value has another type; null when the column never has the value's type.
    /// </summary>
    private string? TypedField(RunField field, object value, List<(string, object?)> parameters)
    {
        var kind = value switch
        {
            double => JsonKind.Number,
            bool => JsonKind.Boolean,
            _ => JsonKind.String,
        };
        if (field.Kind is RunFieldKind.Config or RunFieldKind.Summary)
        {
            var json = database.JsonValue(JsonColumn(field), JsonPathParameter(field, parameters), kind);
            return kind == JsonKind.String ? database.Ordinal(json) : json;
        }

        return (field.Kind, kind) switch
        {
            (RunFieldKind.Name, JsonKind.String) => database.Ordinal("r.name"),
            (RunFieldKind.State, JsonKind.String) => database.Ordinal("r.state"),
            (RunFieldKind.CreatedAt, JsonKind.Number) => "CAST(r.seq AS double precision)",
            (RunFieldKind.Duration, JsonKind.Number) => Duration,
            (RunFieldKind.Name or RunFieldKind.State or RunFieldKind.CreatedAt or RunFieldKind.Duration, _) => null,
            _ => throw new ArgumentOutOfRangeException(nameof(field), field.Kind, "unknown run field"),
        };
    }

    /// <summary>Seconds from start (or creation) to end, or to the last sign of life.</summary>
    private string Duration =>
        database.Seconds("COALESCE(r.ended_at, r.heartbeat_at, r.started_at, r.created_at)", "COALESCE(r.started_at, r.created_at)");

    /// <summary>
    /// Runs without a value sort last in either direction, ties newest first. Config and summary values sort numbers
    /// (booleans as 0 and 1) before strings, strings ordinally.
    /// </summary>
    private string RunOrder(RunSort sort, List<(string, object?)> parameters)
    {
        var direction = sort.Descending ? "DESC" : "ASC";
        if (sort.Field.Kind is RunFieldKind.Config or RunFieldKind.Summary)
        {
            var (column, path) = (JsonColumn(sort.Field), JsonPathParameter(sort.Field, parameters));
            var rank = database.JsonSortRank(column, path);
            var number = database.JsonValue(column, path, JsonKind.Number);
            var boolean = database.JsonValue(column, path, JsonKind.Boolean);
            return $"ORDER BY ({rank}) IS NULL, {rank} {direction}, "
                + $"COALESCE({number}, CASE WHEN {boolean} THEN 1 WHEN NOT {boolean} THEN 0 END) {direction}, "
                + $"{database.Ordinal(database.JsonValue(column, path, JsonKind.String))} {direction}, r.seq DESC";
        }

        var field = sort.Field.Kind switch
        {
            RunFieldKind.CreatedAt => "r.seq",
            RunFieldKind.Name => database.Ordinal("r.name"),
            RunFieldKind.State => database.Ordinal("r.state"),
            RunFieldKind.Duration => Duration,
            _ => throw new ArgumentOutOfRangeException(nameof(sort), sort.Field.Kind, "unknown run field"),
        };
        return $"ORDER BY ({field}) IS NULL, {field} {direction}, r.seq DESC";
    }

    private static string JsonColumn(RunField field) => field.Kind == RunFieldKind.Config ? "r.config" : "r.summary";

    /// <summary>A parameter holding the path of the field's keys.</summary>
    private string JsonPathParameter(RunField field, List<(string, object?)> parameters)
    {
        if (field.Path.Count == 0 || field.Path.Any(k => k.Contains('"', StringComparison.Ordinal)))
        {
            throw new ArgumentException("a config or summary field names one or more keys without double quotes", nameof(field));
        }

        var name = $"@p{parameters.Count}";
        parameters.Add((name, database.JsonPath(field.Path)));
        return name;
    }

    public async Task<RunRecord?> UpdateRunAsync(long entityId, string runId, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken)
    {
        RunRecord? before = null;
        var after = await database.WriteAsync(async session =>
        {
            if (await ReadRunAsync(session, entityId, runId, forUpdate: true, cancellationToken) is not { } stored)
            {
                return null;
            }

            (var seq, before) = stored;
            var updated = change(before);
            await session.ExecuteAsync(RunUpdate(seq, before, updated), cancellationToken);
            return updated;
        }, cancellationToken);
        if (after is not null)
        {
            database.Metrics?.RunChanged(before, after);
        }

        return after;
    }

    public async Task<HistoryAppendResult?> AppendHistoryAsync(long entityId, string runId, IReadOnlyList<StoredHistoryRow> rows, Func<RunRecord, int, RunRecord> change, CancellationToken cancellationToken)
    {
        var result = await database.WriteAsync(async session =>
        {
            // The run's row lock orders concurrent batches of one run: the second sees the first's last step.
            if (await ReadRunAsync(session, entityId, runId, forUpdate: true, cancellationToken) is not { } stored)
            {
                return null;
            }

            var (seq, run) = stored;

            var replayed = 0;
            while (replayed < rows.Count && rows[replayed].Step <= run.LastStep)
            {
                replayed++;
            }

            if (replayed > 0)
            {
                var present = (long)(await session.ScalarAsync("SELECT COUNT(*) FROM history WHERE run_seq = @seq AND step >= @first AND step <= @last",
                    cancellationToken, ("@seq", seq), ("@first", rows[0].Step), ("@last", rows[replayed - 1].Step)))!;
                if (present != replayed)
                {
                    throw new StoreValidationException("rows", $"history rows out of order: step {rows[0].Step} is not after the run's last step {run.LastStep}");
                }
            }

            var updated = change(run, replayed);
            var writes = new List<Sql>(2);
            if (replayed < rows.Count)
            {
                var fresh = rows.Count - replayed;
                var (steps, times, values) = (new long[fresh], new double[fresh], new string[fresh]);
                for (var i = 0; i < fresh; i++)
                {
                    var row = rows[replayed + i];
                    (steps[i], times[i], values[i]) = (row.Step, row.Time, row.ValuesJson);
                }

                writes.Add(Sql.InsertRows("history", [("run_seq", seq)], [("step", steps), ("time", times), ("data", values)]));
                updated = updated with { LastStep = rows[^1].Step };
            }

            writes.AddRange(RunUpdate(seq, run, updated));
            await session.ExecuteAsync(writes, cancellationToken);
            return new HistoryAppendResult(rows.Count - replayed, updated);
        }, cancellationToken);
        if (result is not null)
        {
            database.Metrics?.HistoryIngested(result.Accepted);
        }

        return result;
    }

    public Task<IReadOnlyList<StoredHistoryRow>> ReadHistoryAsync(string runId, long afterStep, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<StoredHistoryRow>>(async session => await session.ListAsync("""
            SELECT h.step, h.time, h.data FROM history h JOIN runs r ON r.seq = h.run_seq
            WHERE r.id = @id AND h.step > @after ORDER BY h.step LIMIT @limit
            """, r => new StoredHistoryRow(r.Long(0), r.Double(1), r.String(2)), cancellationToken, ("@id", runId), ("@after", afterStep), ("@limit", limit)), cancellationToken);

    public Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ProjectRecord>>(async session => await session.ListAsync("""
            SELECT e.name, p.name, p.created_at, (SELECT COUNT(*) FROM runs r WHERE r.project_id = p.id)
            FROM projects p JOIN entities e ON e.id = p.entity_id WHERE p.entity_id = @e ORDER BY p.name
            """, r => new ProjectRecord(r.String(0), r.String(1), r.Time(2), r.Long(3)), cancellationToken, ("@e", entityId)), cancellationToken);

    public Task<IReadOnlyList<string>> CrashSilentRunsAsync(DateTimeOffset silentSince, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync<IReadOnlyList<string>>(async session =>
            // PostgreSQL re-checks the condition on a row another transaction just changed, so a run whose heartbeat
            // commits first (on any replica) is not crashed.
            await session.ListAsync(
                $"UPDATE runs SET state = '{RunStates.Crashed}', ended_at = @now WHERE state = '{RunStates.Running}' AND crash_on_silence = {database.True} AND heartbeat_at < @since RETURNING id",
                r => r.String(0), cancellationToken, ("@now", now), ("@since", silentSince)), cancellationToken);

    /// <summary>A run's insert, after its project's (created on first use); the insert affects no row when the id is taken.</summary>
    private static Sql[] RunInserts(long entityId, RunRecord run) =>
    [
        new("INSERT INTO projects (entity_id, name, created_at) VALUES (@e, @name, @at) ON CONFLICT (entity_id, name) DO NOTHING",
            ("@e", entityId), ("@name", run.Project), ("@at", run.CreatedAt)),
        new("""
            INSERT INTO runs (id, entity_id, project_id, name, state, config, summary, host, os, program, python_version,
                exit_code, created_at, started_at, ended_at, heartbeat_at, stop_requested, last_step, log_lines, crash_on_silence, wandb)
            VALUES (@id, @e, (SELECT p.id FROM projects p WHERE p.entity_id = @e AND p.name = @project), @name, @state, @config, @summary,
                @host, @os, @program, @python, @exit, @created, @started, @ended, @heartbeat, @stop, NULL, 0, @crash, @wandb)
            ON CONFLICT (id) DO NOTHING
            """,
            ("@id", run.Id), ("@e", entityId), ("@project", run.Project), ("@name", run.Name), ("@state", run.State),
            ("@config", run.ConfigJson), ("@summary", run.SummaryJson), ("@host", run.Host), ("@os", run.Os),
            ("@program", run.Program), ("@python", run.PythonVersion), ("@exit", run.ExitCode),
            ("@created", run.CreatedAt), ("@started", run.StartedAt), ("@ended", run.EndedAt),
            ("@heartbeat", run.HeartbeatAt), ("@stop", run.StopRequested), ("@crash", run.CrashOnSilence), ("@wandb", run.WandbJson)),
    ];

    /// <summary>The run's update, or nothing when the change left it as it was.</summary>
    private static Sql[] RunUpdate(long seq, RunRecord before, RunRecord after) => ReferenceEquals(before, after) ? [] :
    [
        new("""
            UPDATE runs SET name = @name, state = @state, config = @config, summary = @summary, host = @host, os = @os,
                program = @program, python_version = @python, exit_code = @exit, started_at = @started, ended_at = @ended,
                heartbeat_at = @heartbeat, stop_requested = @stop, last_step = @last, log_lines = @lines,
                crash_on_silence = @crash, wandb = @wandb
            WHERE seq = @seq
            """,
            ("@name", after.Name), ("@state", after.State), ("@config", after.ConfigJson), ("@summary", after.SummaryJson),
            ("@host", after.Host), ("@os", after.Os), ("@program", after.Program), ("@python", after.PythonVersion),
            ("@exit", after.ExitCode), ("@started", after.StartedAt), ("@ended", after.EndedAt),
            ("@heartbeat", after.HeartbeatAt), ("@stop", after.StopRequested), ("@last", after.LastStep),
            ("@lines", after.LogLines), ("@crash", after.CrashOnSilence), ("@wandb", after.WandbJson), ("@seq", seq)),
    ];

    private async Task<(long Seq, RunRecord Run)?> ReadRunAsync(DbSession session, long entityId, string runId, bool forUpdate, CancellationToken cancellationToken)
    {
        var rows = await session.ListAsync($"SELECT {RunColumns} WHERE r.id = @id AND r.entity_id = @e{(forUpdate ? database.LockRows("r") : "")}",
            RunRow, cancellationToken, ("@id", runId), ("@e", entityId));
        return rows.Count == 0 ? null : rows[0];
    }

    private static (long Seq, RunRecord Run) RunRow(Row r) => (r.Long(0), new RunRecord(
        Id: r.String(1),
        Entity: r.String(2),
        Project: r.String(3),
        Name: r.String(4),
        State: r.String(5),
        ConfigJson: r.String(6),
        SummaryJson: r.String(7),
        Host: r.NullableString(8),
        Os: r.NullableString(9),
        Program: r.NullableString(10),
        PythonVersion: r.NullableString(11),
        ExitCode: r.NullableInt(12),
        CreatedAt: r.Time(13),
        StartedAt: r.NullableTime(14),
        EndedAt: r.NullableTime(15),
        HeartbeatAt: r.NullableTime(16),
        StopRequested: r.Bool(17),
        LastStep: r.NullableLong(18),
        LogLines: r.Long(19),
        CrashOnSilence: r.Bool(20),
        WandbJson: r.NullableString(21)));
}
