using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json;
using System.Text;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Server.Storage.Relational;
using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>
/// Connections to one SQLite file in WAL mode, and SQLite's dialect. SQLite has one writer, so writes are serialized in
/// process (as Quartz's SQLiteSemaphore does) on one long-lived connection, and "database is locked" from another
/// process is retried with jittered backoff; that single writer is also what makes a claim atomic. Readers reuse open
/// connections. Connections stay open so that their settings are paid once and their prepared statements
/// (<see cref="Statements"/>) are reused: parsing SQL was a fifth of a claim's CPU. Times are Unix milliseconds.
/// </summary>
internal sealed class SqliteDatabase : RelationalDatabase, IDisposable
{
    private const int MaxAttempts = 8;
    private const int MaxIdleReaders = 16;
    private static readonly Dictionary<string, string> Terms = new(StringComparer.Ordinal)
    {
        ["id"] = "INTEGER PRIMARY KEY",
        ["seq"] = "INTEGER PRIMARY KEY AUTOINCREMENT",
        ["bigint"] = "INTEGER",
        ["int"] = "INTEGER",
        ["bool"] = "INTEGER",
        ["true"] = "1",
        ["false"] = "0",
        ["time"] = "INTEGER",
        ["double"] = "REAL",
        ["text"] = "TEXT",
        ["key"] = "TEXT",
        ["runs_fk"] = " REFERENCES runs(seq)",
        ["no_rowid"] = " WITHOUT ROWID",
    };

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentBag<SqliteConnection> _idleReaders = [];
    private SqliteConnection? _writer;

    public SqliteDatabase(string path)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
        Path = path;
    }

    public string Path { get; }

    public override string Name => Path;

    public override bool CachesStatements => true;

    public override string True => "1";

    public override IReadOnlyDictionary<string, string> SchemaTerms => Terms;

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragmas = connection.CreateCommand();
        // journal_mode is a property of the file (set once by the migrations); these hold per connection. A checkpoint
        // runs inside the commit that crosses wal_autocheckpoint, fsyncing the WAL and the file while every other write
        // waits: every 10,000 pages (40 MB of WAL) rather than SQLite's 1,000 makes those stalls ten times rarer.
        pragmas.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=10000;";
        await pragmas.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    protected override async Task<T> ReadCoreAsync<T>(Func<DbSession, Task<T>> read, CancellationToken cancellationToken)
    {
        var connection = _idleReaders.TryTake(out var idle) ? idle : await OpenAsync(cancellationToken);
        var reusable = false;
        try
        {
            var result = await read(new DbSession(this, connection, null));
            reusable = true;
            return result;
        }
        finally
        {
            if (reusable && _idleReaders.Count < MaxIdleReaders)
            {
                _idleReaders.Add(connection);
            }
            else
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>Runs <paramref name="write"/> in a transaction, alone among this process's writers, on the one writer connection.</summary>
    public override async Task<T> TransactAsync<T>(Func<DbSession, Task<T>> write, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var connection = _writer ??= await OpenAsync(cancellationToken);
                try
                {
                    await using var transaction = connection.BeginTransaction(deferred: false);
                    var result = await write(new DbSession(this, connection, transaction));
                    await transaction.CommitAsync(cancellationToken);
                    return result;
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode is 5 or 6 && attempt < MaxAttempts)
                {
                    await Task.Delay(Backoff.Delay(attempt, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(1)), cancellationToken);
                }
                catch (SqliteException)
                {
                    // Most SQLite errors leave the connection usable, but not all (an I/O error, a full disk) and they
                    // are rare: the next write starts on a fresh connection rather than guess.
                    await connection.DisposeAsync();
                    _writer = null;
                    throw;
                }
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override object Parameter(object? value) => value switch
    {
        null => DBNull.Value,
        DateTimeOffset time => time.ToUnixTimeMilliseconds(),
        // Arrays are read by json_each (AnyOf).
        string[] strings => JsonSerializer.Serialize<IReadOnlyList<string>>(strings, LiftoffJsonContext.Default.IReadOnlyListString),
        _ => value,
    };

    public override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public override string LockRows(string alias, bool skipLocked = false) => "";

    public override string AnyOf(string parameter) => $"IN (SELECT value FROM json_each({parameter}))";

    public override string AddSeconds(string time, string seconds) => $"{time} + {seconds} * 1000";

    public override string Seconds(string later, string earlier) => $"(({later}) - ({earlier})) / 1000.0";

    public override string Utf8Length(string text) => $"length(CAST({text} AS BLOB))";

    public override string JsonArrayOf(string column, string from) => $"(SELECT json_group_array({column}) FROM {from})";

    public override string ContainsIgnoringCase(string text, string part) => $"instr(lower({text}), lower({part})) > 0";

    public override string Ordinal(string text) => text;

    public override string JsonValue(string column, string path, JsonKind type) =>
        $"CASE WHEN json_type({column}, {path}) IN {type switch
        {
            JsonKind.Number => "('integer', 'real')",
            JsonKind.Boolean => "('true', 'false')",
            _ => "('text')",
        }} THEN json_extract({column}, {path}) END";

    public override string JsonSortRank(string column, string path) =>
        $"CASE COALESCE(json_type({column}, {path}), 'null') WHEN 'null' THEN NULL WHEN 'text' THEN 1 WHEN 'integer' THEN 0 WHEN 'real' THEN 0 WHEN 'true' THEN 0 WHEN 'false' THEN 0 ELSE 2 END";

    /// <summary>SQLite's JSON path, each key quoted so that dots and spaces in names are safe.</summary>
    public override object JsonPath(IReadOnlyList<string> keys) => "$" + string.Concat(keys.Select(k => $".\"{k}\""));

    public override async Task<int[]> ExecuteAsync(DbSession session, IReadOnlyList<Sql> statements, CancellationToken cancellationToken)
    {
        var affected = new int[statements.Count];
        for (var s = 0; s < statements.Count; s++)
        {
            var sql = statements[s];
            if (sql.RowColumns is not { } rows)
            {
                await using var command = session.Command(sql.Text, sql.Parameters);
                affected[s] = await command.ExecuteNonQueryAsync(cancellationToken);
                continue;
            }

            // One prepared insert, bound and stepped once a row: SQLite has no round trips to save.
            var columns = sql.Parameters.Select(p => p.Name).Concat(rows.Select(r => r.Column)).ToList();
            var text = new StringBuilder("INSERT INTO ").Append(sql.Text).Append(" (").AppendJoin(", ", columns)
                .Append(") VALUES (@").AppendJoin(", @", columns).Append(") ").Append(sql.Tail).ToString();
            var count = rows[0].Values.Length;
            if (count == 0)
            {
                continue;
            }

            await using var insert = session.Command(text, [
                .. sql.Parameters.Select(p => ("@" + p.Name, p.Value)),
                .. rows.Select(r => ("@" + r.Column, At(r.Values, 0))),
            ]);
            var first = sql.Parameters.Length;
            for (var i = 0; i < count; i++)
            {
                for (var c = 0; c < rows.Length; c++)
                {
                    insert.Parameters[first + c].Value = Parameter(At(rows[c].Values, i));
                }

                affected[s] += await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        return affected;
    }

    /// <summary>A row's value, read without Array.GetValue's reflection for the column types the store inserts in bulk.</summary>
    private static object? At(Array values, int index) => values switch
    {
        long[] longs => longs[index],
        double[] doubles => doubles[index],
        string[] strings => strings[index],
        _ => values.GetValue(index),
    };

    /// <summary>
    /// One probe per queue, a seek into the claim index that reads its first entry in claim order (no sort), keeps a claim
    /// O(log n) however deep the queues are; the best head wins and is read by its rowid. A paused queue's probe finds
    /// nothing (its one-row check runs once per probe).
    /// </summary>
    internal const string ClaimProbe = $"""
        SELECT priority, position, seq FROM items INDEXED BY items_claimable
        WHERE queue_id = @q AND state = '{ItemStates.Pending}' AND claimable_at IS NULL AND NOT EXISTS (SELECT 1 FROM queues WHERE id = @q AND paused = 1)
        ORDER BY priority, position, seq LIMIT 1
        """;

    public override async Task<ItemRow?> FindClaimableAsync(DbSession session, IReadOnlyList<long> queueIds, CancellationToken cancellationToken)
    {
        (long Priority, long Position, long Seq)? best = null;
        foreach (var queueId in queueIds)
        {
            var head = await session.ListAsync(ClaimProbe, r => (r.Long(0), r.Long(1), r.Long(2)), cancellationToken, ("@q", queueId));
            if (head.Count > 0 && (best is null || head[0].CompareTo(best.Value) < 0))
            {
                best = head[0];
            }
        }

        return best is null ? null : (await RelationalStore.ReadItemsAsync(session, "WHERE i.seq = @seq", cancellationToken, ("@seq", best.Value.Seq)))[0];
    }

    /// <summary>Claims wait in this process only (<see cref="Launch.QueueSignals"/>), which the enqueue itself signals.</summary>
    public override Sql? WakeQueue(long queueId) => null;

    /// <summary>WAL lets readers run beside the one writer; the mode is stored in the file, so once is enough.</summary>
    public override async Task BeforeMigratingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var wal = connection.CreateCommand();
        wal.CommandText = "PRAGMA journal_mode=WAL";
        await wal.ExecuteNonQueryAsync(cancellationToken);
    }

    public void Dispose()
    {
        _writeLock.Dispose();
        _writer?.Dispose();
        _writer = null;
        while (_idleReaders.TryTake(out var connection))
        {
            connection.Dispose();
        }
    }
}
