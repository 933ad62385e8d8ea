using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>
/// Connections to one SQLite file in WAL mode. SQLite has one writer, so writes are serialized in process
/// (as Quartz's SQLiteSemaphore does) and "database is locked" from another process is retried with jittered backoff.
/// </summary>
internal sealed class SqliteDatabase : IDisposable
{
    private const int MaxAttempts = 8;
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public SqliteDatabase(string path)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
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
        // journal_mode is a property of the file (set once by the migrations); these hold per connection.
        pragmas.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";
        await pragmas.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    public async Task<T> ReadAsync<T>(Func<SqliteConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await read(connection);
    }

    /// <summary>Runs <paramref name="write"/> in a transaction, alone among this process's writers.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> write, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var connection = await OpenAsync(cancellationToken);
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
        SqliteConnection.ClearAllPools();
    }
}
