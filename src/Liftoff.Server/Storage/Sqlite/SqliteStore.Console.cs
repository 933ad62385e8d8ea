using Liftoff.Contracts;
using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>Console archives: a run's early console lines moved to one blob (DESIGN.md §5).</summary>
internal sealed partial class SqliteStore
{
    private const string EndedStates = $"('{RunStates.Finished}', '{RunStates.Failed}', '{RunStates.Killed}', '{RunStates.Crashed}')";

    public Task<IReadOnlyList<ConsoleToArchive>> FindConsolesToArchiveAsync(ConsoleToArchive after, DateTimeOffset endedBefore, long minBytes, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ConsoleToArchive>>(async connection =>
        {
            await using var command = Command(connection, null, $"""
                SELECT r.id, r.ended_at FROM runs r
                WHERE r.ended_at IS NOT NULL AND (r.ended_at > $after OR (r.ended_at = $after AND r.id > $afterId)) AND r.ended_at <= $before
                    AND r.state IN {EndedStates}
                    AND NOT EXISTS (SELECT 1 FROM console_archives a WHERE a.run_seq = r.seq AND a.sha256 IS NOT NULL)
                    AND (SELECT COALESCE(SUM(length(CAST(c.text AS BLOB))), 0) FROM console c WHERE c.run_seq = r.seq) > $min
                ORDER BY r.ended_at, r.id LIMIT $limit
                """, ("$after", Ms(after.EndedAt)), ("$afterId", after.RunId), ("$before", Ms(endedBefore)), ("$min", minBytes), ("$limit", limit));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var runs = new List<ConsoleToArchive>();
            while (await reader.ReadAsync(cancellationToken))
            {
                runs.Add(new ConsoleToArchive(Time(reader.GetInt64(1)), reader.GetString(0)));
            }

            return runs;
        }, cancellationToken);

    public Task<ConsoleArchive?> SealConsoleAsync(string runId, DateTimeOffset endedBefore, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            await Command(connection, transaction, $"""
                INSERT INTO console_archives (run_seq, lines, sealed_at)
                SELECT seq, log_lines, $now FROM runs
                WHERE id = $id AND state IN {EndedStates} AND ended_at <= $before AND log_lines > 0
                ON CONFLICT (run_seq) DO NOTHING
                """, ("$id", runId), ("$before", Ms(endedBefore)), ("$now", Ms(now))).RunAsync(cancellationToken);
            return await ReadArchiveAsync(connection, transaction, runId, cancellationToken) is { IsComplete: false } seal ? seal : null;
        }, cancellationToken);

    public Task<bool> CompleteConsoleArchiveAsync(string runId, long lines, string sha256, long size, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async (connection, transaction) =>
        {
            var completed = await Command(connection, transaction, """
                UPDATE console_archives SET sha256 = $sha, size = $size, archived_at = $now
                WHERE run_seq = (SELECT seq FROM runs WHERE id = $id) AND lines = $lines AND sha256 IS NULL
                """, ("$sha", sha256), ("$size", size), ("$now", Ms(now)), ("$id", runId), ("$lines", lines)).RunAsync(cancellationToken);
            if (completed == 1)
            {
                await Command(connection, transaction, "DELETE FROM console WHERE run_seq = (SELECT seq FROM runs WHERE id = $id) AND line < $lines",
                    ("$id", runId), ("$lines", lines)).RunAsync(cancellationToken);
            }

            return completed == 1;
        }, cancellationToken);

    public Task<ConsoleArchive?> GetConsoleArchiveAsync(string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(connection => ReadArchiveAsync(connection, null, runId, cancellationToken), cancellationToken);

    /// <summary>Refuses a console write reaching below the run's archived (or sealed) lines.</summary>
    private static async Task EnsureNotArchivedAsync(SqliteConnection connection, SqliteTransaction transaction, long seq, string runId, long lowest, CancellationToken cancellationToken)
    {
        var archived = await Command(connection, transaction, "SELECT lines FROM console_archives WHERE run_seq = $seq", ("$seq", seq)).ScalarAsync(cancellationToken);
        if (archived is long lines && lowest < lines)
        {
            throw new ConsoleArchive(lines, null, null).Refusal(runId, lowest);
        }
    }

    private static async Task<ConsoleArchive?> ReadArchiveAsync(SqliteConnection connection, SqliteTransaction? transaction, string runId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            "SELECT a.lines, a.sha256, a.size FROM console_archives a JOIN runs r ON r.seq = a.run_seq WHERE r.id = $id", ("$id", runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ConsoleArchive(reader.GetInt64(0), NullableString(reader, 1), reader.IsDBNull(2) ? null : reader.GetInt64(2))
            : null;
    }
}
