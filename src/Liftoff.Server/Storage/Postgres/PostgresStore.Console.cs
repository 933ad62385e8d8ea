using Liftoff.Contracts;
using Npgsql;

namespace Liftoff.Server.Storage.Postgres;

/// <summary>
/// Console archives: a run's early console lines moved to one blob (DESIGN.md §5). The seal locks the run's row, as
/// every console write does, so a write either lands before the seal (and is archived) or sees it (and is refused).
/// </summary>
internal sealed partial class PostgresStore
{
    private const string EndedStates = $"('{RunStates.Finished}', '{RunStates.Failed}', '{RunStates.Killed}', '{RunStates.Crashed}')";

    public Task<IReadOnlyList<ConsoleToArchive>> FindConsolesToArchiveAsync(ConsoleToArchive after, DateTimeOffset endedBefore, long minBytes, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ConsoleToArchive>>(async connection =>
        {
            await using var command = Command(connection, null, $"""
                SELECT r.id, r.ended_at FROM runs r
                WHERE r.ended_at IS NOT NULL AND (r.ended_at, r.id) > (@after, @afterId) AND r.ended_at <= @before
                    AND r.state IN {EndedStates}
                    AND NOT EXISTS (SELECT 1 FROM console_archives a WHERE a.run_seq = r.seq AND a.sha256 IS NOT NULL)
                    AND (SELECT COALESCE(SUM(octet_length(c.text)), 0) FROM console c WHERE c.run_seq = r.seq) > @min
                ORDER BY r.ended_at, r.id LIMIT @limit
                """, ("after", after.EndedAt), ("afterId", after.RunId), ("before", endedBefore), ("min", minBytes), ("limit", limit));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var runs = new List<ConsoleToArchive>();
            while (await reader.ReadAsync(cancellationToken))
            {
                runs.Add(new ConsoleToArchive(Time(reader, 1), reader.GetString(0)));
            }

            return runs;
        }, cancellationToken);

    public Task<ConsoleArchive?> SealConsoleAsync(string runId, DateTimeOffset endedBefore, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            long? seq = null;
            long lines = 0;
            await using (var run = Command(connection, transaction,
                $"SELECT seq, log_lines FROM runs WHERE id = @id AND state IN {EndedStates} AND ended_at <= @before AND log_lines > 0 FOR UPDATE",
                ("id", runId), ("before", endedBefore)))
            await using (var reader = await run.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    (seq, lines) = (reader.GetInt64(0), reader.GetInt64(1));
                }
            }

            if (seq is not null)
            {
                await using var seal = Command(connection, transaction,
                    "INSERT INTO console_archives (run_seq, lines, sealed_at) VALUES (@seq, @lines, @now) ON CONFLICT (run_seq) DO NOTHING",
                    ("seq", seq), ("lines", lines), ("now", now));
                await seal.ExecuteNonQueryAsync(cancellationToken);
            }

            return await ReadArchiveAsync(connection, transaction, runId, cancellationToken) is { IsComplete: false } open ? open : null;
        }, cancellationToken);

    public Task<bool> CompleteConsoleArchiveAsync(string runId, long lines, string sha256, long size, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            // The row lock taken by the UPDATE makes a second replica wait here, then find the seal completed.
            await using var complete = Command(connection, transaction, """
                UPDATE console_archives SET sha256 = @sha, size = @size, archived_at = @now
                WHERE run_seq = (SELECT seq FROM runs WHERE id = @id) AND lines = @lines AND sha256 IS NULL
                RETURNING run_seq
                """, ("sha", sha256), ("size", size), ("now", now), ("id", runId), ("lines", lines));
            if (await complete.ExecuteScalarAsync(cancellationToken) is not long seq)
            {
                return false;
            }

            await using var delete = Command(connection, transaction, "DELETE FROM console WHERE run_seq = @seq AND line < @lines", ("seq", seq), ("lines", lines));
            await delete.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<ConsoleArchive?> GetConsoleArchiveAsync(string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadArchiveAsync(connection, null, runId, cancellationToken), cancellationToken);

    /// <summary>Refuses a console write reaching below the run's archived (or sealed) lines; the caller holds the run's row lock.</summary>
    private static async Task EnsureNotArchivedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, long seq, string runId, long lowest, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT lines FROM console_archives WHERE run_seq = @seq", ("seq", seq));
        if (await command.ExecuteScalarAsync(cancellationToken) is long lines && lowest < lines)
        {
            throw new ConsoleArchive(lines, null, null).Refusal(runId, lowest);
        }
    }

    private static async Task<ConsoleArchive?> ReadArchiveAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string runId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            "SELECT a.lines, a.sha256, a.size FROM console_archives a JOIN runs r ON r.seq = a.run_seq WHERE r.id = @id", ("id", runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ConsoleArchive(reader.GetInt64(0), NullableString(reader, 1), reader.IsDBNull(2) ? null : reader.GetInt64(2))
            : null;
    }
}
