using Liftoff.Contracts;
using Liftoff.Core.Json;
using Liftoff.Core.Runs;

namespace Liftoff.Server.Storage.Relational;

/// <summary>
/// Console lines and their archives: a run's early console lines moved to one blob (DESIGN.md §5). The seal locks the
/// run's row, as every console write does, so a write either lands before the seal (and is archived) or sees it (and
/// is refused).
/// </summary>
internal sealed partial class RelationalStore
{
    private const string EndedStates = $"('{RunStates.Finished}', '{RunStates.Failed}', '{RunStates.Killed}', '{RunStates.Crashed}')";

    public Task<RunRecord?> AppendLogsAsync(long entityId, string runId, long offset, IReadOnlyList<StoredLogLine> lines, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await ReadRunAsync(session, entityId, runId, forUpdate: true, cancellationToken) is not { } stored)
            {
                return null;
            }

            var (seq, run) = stored;
            if (offset > run.LogLines)
            {
                throw new StoreValidationException("offset", $"offset {offset} would leave a gap: the run has {run.LogLines} console lines, so the next offset is {run.LogLines}");
            }

            var updated = change(run);
            var writes = new List<Sql>(2);
            if (lines.Count > 0)
            {
                // Only a retry reaches below the run's line count, and only there can an archive be in the way.
                if (offset < run.LogLines)
                {
                    await EnsureNotArchivedAsync(session, seq, runId, offset, cancellationToken);
                }

                // A line number stored before keeps its first text: a client's retry must not rewrite the log.
                writes.Add(ConsoleInsert(seq, lines, "ON CONFLICT DO NOTHING"));
                updated = updated with { LogLines = Math.Max(run.LogLines, offset + lines.Count) };
            }

            writes.AddRange(RunUpdate(seq, run, updated));
            await session.ExecuteAsync(writes, cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<RunRecord?> WriteLogsAsync(long entityId, string runId, IReadOnlyList<StoredLogLine> lines, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await ReadRunAsync(session, entityId, runId, forUpdate: true, cancellationToken) is not { } stored)
            {
                return null;
            }

            var (seq, run) = stored;
            var updated = change(run);
            var writes = new List<Sql>(2);
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
                    await EnsureNotArchivedAsync(session, seq, runId, lowest, cancellationToken);
                }

                writes.Add(ConsoleInsert(seq, [.. last.Values], "ON CONFLICT (run_seq, line) DO UPDATE SET stream = excluded.stream, text = excluded.text, time = excluded.time"));
                updated = updated with { LogLines = Math.Max(run.LogLines, last.Keys.Max() + 1) };
            }

            writes.AddRange(RunUpdate(seq, run, updated));
            await session.ExecuteAsync(writes, cancellationToken);
            return updated;
        }, cancellationToken);

    public Task<IReadOnlyList<StoredLogLine>> ReadLogsAsync(string runId, long afterLine, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<StoredLogLine>>(async session => await session.ListAsync("""
            SELECT c.line, c.stream, c.text, c.time FROM console c JOIN runs r ON r.seq = c.run_seq
            WHERE r.id = @id AND c.line > @after ORDER BY c.line LIMIT @limit
            """, r => new StoredLogLine(r.Long(0), r.String(1), r.String(2), r.Double(3)), cancellationToken, ("@id", runId), ("@after", afterLine), ("@limit", limit)), cancellationToken);

    public Task<IReadOnlyList<ConsoleToArchive>> FindConsolesToArchiveAsync(ConsoleToArchive after, DateTimeOffset endedBefore, long minBytes, int limit, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ConsoleToArchive>>(async session => await session.ListAsync($"""
            SELECT r.id, r.ended_at FROM runs r
            WHERE r.ended_at IS NOT NULL AND (r.ended_at, r.id) > (@after, @afterId) AND r.ended_at <= @before
                AND r.state IN {EndedStates}
                AND NOT EXISTS (SELECT 1 FROM console_archives a WHERE a.run_seq = r.seq AND a.sha256 IS NOT NULL)
                AND (SELECT COALESCE(SUM({database.Utf8Length("c.text")}), 0) FROM console c WHERE c.run_seq = r.seq) > @min
            ORDER BY r.ended_at, r.id LIMIT @limit
            """, r => new ConsoleToArchive(r.Time(1), r.String(0)), cancellationToken,
            ("@after", after.EndedAt), ("@afterId", after.RunId), ("@before", endedBefore), ("@min", minBytes), ("@limit", limit)), cancellationToken);

    public Task<ConsoleArchive?> SealConsoleAsync(string runId, DateTimeOffset endedBefore, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            var run = await session.ListAsync(
                $"SELECT seq, log_lines FROM runs WHERE id = @id AND state IN {EndedStates} AND ended_at <= @before AND log_lines > 0{database.LockRows("runs")}",
                r => (Seq: r.Long(0), Lines: r.Long(1)), cancellationToken, ("@id", runId), ("@before", endedBefore));
            if (run.Count > 0)
            {
                await session.ExecuteAsync("INSERT INTO console_archives (run_seq, lines, sealed_at) VALUES (@seq, @lines, @now) ON CONFLICT (run_seq) DO NOTHING",
                    cancellationToken, ("@seq", run[0].Seq), ("@lines", run[0].Lines), ("@now", now));
            }

            return await ReadArchiveAsync(session, runId, cancellationToken) is { IsComplete: false } open ? open : null;
        }, cancellationToken);

    public Task<bool> CompleteConsoleArchiveAsync(string runId, long lines, string sha256, long size, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            // The row lock taken by the UPDATE makes a second replica wait here, then find the seal completed.
            if (await session.ScalarAsync("""
                UPDATE console_archives SET sha256 = @sha, size = @size, archived_at = @now
                WHERE run_seq = (SELECT seq FROM runs WHERE id = @id) AND lines = @lines AND sha256 IS NULL
                RETURNING run_seq
                """, cancellationToken, ("@sha", sha256), ("@size", size), ("@now", now), ("@id", runId), ("@lines", lines)) is not long seq)
            {
                return false;
            }

            await session.ExecuteAsync("DELETE FROM console WHERE run_seq = @seq AND line < @lines", cancellationToken, ("@seq", seq), ("@lines", lines));
            return true;
        }, cancellationToken);

    public Task<ConsoleArchive?> GetConsoleArchiveAsync(string runId, CancellationToken cancellationToken) =>
        database.ReadAsync(session => ReadArchiveAsync(session, runId, cancellationToken), cancellationToken);

    private static Sql ConsoleInsert(long seq, IReadOnlyList<StoredLogLine> lines, string onConflict) =>
        Sql.InsertRows("console", [("run_seq", seq)],
            [("line", lines.Select(l => l.Line).ToArray()), ("stream", lines.Select(l => l.Stream).ToArray()),
             ("text", lines.Select(l => JsonText.ConsoleText(l.Text)).ToArray()), ("time", lines.Select(l => l.Time).ToArray())],
            onConflict);

    /// <summary>Refuses a console write reaching below the run's archived (or sealed) lines; the caller holds the run's row lock.</summary>
    private static async Task EnsureNotArchivedAsync(DbSession session, long seq, string runId, long lowest, CancellationToken cancellationToken)
    {
        if (await session.ScalarAsync("SELECT lines FROM console_archives WHERE run_seq = @seq", cancellationToken, ("@seq", seq)) is long lines && lowest < lines)
        {
            throw new ConsoleArchive(lines, null, null).Refusal(runId, lowest);
        }
    }

    private static Task<ConsoleArchive?> ReadArchiveAsync(DbSession session, string runId, CancellationToken cancellationToken) =>
        session.FirstAsync("SELECT a.lines, a.sha256, a.size FROM console_archives a JOIN runs r ON r.seq = a.run_seq WHERE r.id = @id",
            r => new ConsoleArchive(r.Long(0), r.NullableString(1), r.NullableLong(2)), cancellationToken, ("@id", runId));
}
