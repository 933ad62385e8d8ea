using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>
/// Connections to one SQLite file in WAL mode. SQLite has one writer, so writes are serialized in process (as Quartz's
/// SQLiteSemaphore does) on one long-lived connection, and "database is locked" from another process is retried with
/// jittered backoff. Readers reuse open connections. Connections stay open so that their settings are paid once and
/// their prepared statements (<see cref="SqliteStatements"/>) are reused: parsing SQL was a fifth of a claim's CPU.
/// </summary>
internal sealed class SqliteDatabase : IDisposable
{
    private const int MaxAttempts = 8;
    private const int MaxIdleReaders = 16;
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

    public async Task<T> ReadAsync<T>(Func<SqliteConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        var connection = _idleReaders.TryTake(out var idle) ? idle : await OpenAsync(cancellationToken);
        var reusable = false;
        try
        {
            var result = await read(connection);
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
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> write, CancellationToken cancellationToken)
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
                    var result = await write(connection, transaction);
                    await transaction.CommitAsync(cancellationToken);
                    return result;
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode is 5 or 6 && attempt < MaxAttempts)
                {
                    var backoff = Math.Min(1000, 10 * (1 << attempt));
                    await Task.Delay(TimeSpan.FromMilliseconds(backoff / 2 + Random.Shared.Next(backoff / 2)), cancellationToken);
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
