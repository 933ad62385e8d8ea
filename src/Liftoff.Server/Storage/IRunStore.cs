using Liftoff.Core.Runs;

namespace Liftoff.Server.Storage;

/// <summary>Projects, runs, their history and console output. Every call is scoped to the caller's entity.</summary>
internal interface IRunStore
{
    /// <summary>Stores a new run, creating its project on first use. False when the id is taken (by any entity).</summary>
    Task<bool> TryCreateRunAsync(long entityId, RunRecord run, CancellationToken cancellationToken);

    Task<RunRecord?> GetRunAsync(long entityId, string runId, CancellationToken cancellationToken);

    Task<RunPage> ListRunsAsync(RunQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the run, applies <paramref name="change"/> and writes the result, atomically. The change is a pure
    /// function (the run life cycle); an exception it throws aborts the write. Null when the run is not the entity's.
    /// </summary>
    Task<RunRecord?> UpdateRunAsync(long entityId, string runId, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken);

    /// <summary>
    /// Appends history rows (steps strictly increasing) and applies <paramref name="change"/> to the run in the same
    /// transaction. Rows at steps already stored are replays: they form a prefix of the batch and are skipped, and
    /// <paramref name="change"/> is told how many. A new step at or below the run's last step throws
    /// <see cref="StoreValidationException"/>. Null when the run is not the entity's.
    /// </summary>
    Task<HistoryAppendResult?> AppendHistoryAsync(long entityId, string runId, IReadOnlyList<StoredHistoryRow> rows, Func<RunRecord, int, RunRecord> change, CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredHistoryRow>> ReadHistoryAsync(string runId, long afterStep, int limit, CancellationToken cancellationToken);

    /// <summary>Stores console lines numbered from <paramref name="offset"/>; a line number stored before keeps its first text.</summary>
    Task<RunRecord?> AppendLogsAsync(long entityId, string runId, long offset, IReadOnlyList<StoredLogLine> lines, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken);

    /// <summary>
    /// Stores console lines at their numbers, replacing any text stored before at the same numbers (a terminal's
    /// progress bar rewrites its line), and applies <paramref name="change"/> in the same transaction. Numbers may
    /// leave gaps; <see cref="RunRecord.LogLines"/> becomes one past the highest number stored. Null when the run is
    /// not the entity's.
    /// </summary>
    Task<RunRecord?> WriteLogsAsync(long entityId, string runId, IReadOnlyList<StoredLogLine> lines, Func<RunRecord, RunRecord> change, CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredLogLine>> ReadLogsAsync(string runId, long afterLine, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Runs that ended (terminal or crashed) after <paramref name="after"/> and no later than <paramref name="endedBefore"/>,
    /// whose console is not archived and holds more than <paramref name="minBytes"/> bytes of UTF-8 text in the database;
    /// in (end time, id) order, for keyset paging.
    /// </summary>
    Task<IReadOnlyList<ConsoleToArchive>> FindConsolesToArchiveAsync(ConsoleToArchive after, DateTimeOffset endedBefore, long minBytes, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Seals the run's console lines <c>[0, LogLines)</c> for archiving: from then on, writes below that line are refused
    /// with <see cref="Liftoff.Core.Runs.RunConflictException"/>, so the rows cannot change while they are copied to a
    /// blob. Only a run that still ended no later than <paramref name="endedBefore"/> is sealed; a seal made before (by any
    /// replica) and not yet completed is returned as it is. Null when there is nothing to archive: the run is gone or
    /// running again, or its console is archived already.
    /// </summary>
    Task<ConsoleArchive?> SealConsoleAsync(string runId, DateTimeOffset endedBefore, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction, records that the blob <paramref name="sha256"/> holds the sealed lines <c>[0, lines)</c> and
    /// deletes those rows. False, changing nothing, unless the seal is still open for exactly these lines (another
    /// replica completed it first).
    /// </summary>
    Task<bool> CompleteConsoleArchiveAsync(string runId, long lines, string sha256, long size, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The run's console archive or seal; null when it has none.</summary>
    Task<ConsoleArchive?> GetConsoleArchiveAsync(string runId, CancellationToken cancellationToken);

    Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(long entityId, CancellationToken cancellationToken);

    /// <summary>
    /// Marks running runs whose last sign of life is before <paramref name="silentSince"/> as crashed, except runs
    /// that do not <see cref="RunRecord.CrashOnSilence"/>; returns their ids.
    /// </summary>
    Task<IReadOnlyList<string>> CrashSilentRunsAsync(DateTimeOffset silentSince, DateTimeOffset now, CancellationToken cancellationToken);
}

internal sealed record HistoryAppendResult(int Accepted, RunRecord Run);
