using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>
/// Connections to one SQLite file in WAL mode. SQLite has one writer, so writes are serialized in process
/// (as Quartz's SQLiteSemaphore does) on one connection kept open and committed in groups (<see cref="WriteAsync"/>),
/// and "database is locked" from another process is retried with jittered backoff. Reads take an open connection from a small set kept here, so a request pays
/// neither the open nor the per-connection pragmas.
/// </summary>
internal sealed class SqliteDatabase : IDisposable
{
    private const int MaxAttempts = 8;

    /// <summary>Open read connections kept beyond this many are closed when returned (a burst's extra ones).</summary>
    private const int MaxIdleReaders = 16;

    /// <summary>The most writes committed together in one transaction.</summary>
    private const int MaxBatch = 64;

    private const string Savepoint = "write";

    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentBag<SqliteConnection> _idleReaders = [];
    private readonly ConcurrentQueue<PendingWrite> _queued = new();
    private SqliteConnection? _writer;
    private bool _disposed;

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
        var connection = _idleReaders.TryTake(out var idle) ? idle : await OpenAsync(cancellationToken);
        T result;
        try
        {
            result = await read(connection);
        }
        catch
        {
            // A failed read may leave a reader open on the connection: never hand it out again.
            await connection.DisposeAsync();
            throw;
        }

        if (Volatile.Read(ref _disposed) || _idleReaders.Count >= MaxIdleReaders)
        {
            await connection.DisposeAsync();
        }
        else
        {
            _idleReaders.Add(connection);
        }

        return result;
    }

    /// <summary>
    /// Runs <paramref name="write"/> in a transaction, alone among this process's writers, and returns once it is
    /// committed. Writes that arrive while another is running are committed together (group commit): the caller that
    /// finds the writer free runs every queued write, each inside its own savepoint (a write that throws is rolled back
    /// alone and its caller gets the exception), then commits once. One commit and no hand-over between threads per
    /// batch is what lets concurrent agents' claims and reports overlap on SQLite's single writer.
    /// </summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> write, CancellationToken cancellationToken)
    {
        var pending = new PendingWrite<T>(write, cancellationToken);
        _queued.Enqueue(pending);
        if (_writeLock.Wait(0, CancellationToken.None))
        {
            // The writer runs on the thread pool rather than on this request, which would otherwise keep draining
            // other requests' writes for as long as they keep coming.
            _ = Task.Run(WriteQueuedAsync, CancellationToken.None);
        }

        return await pending.Source.Task;
    }

    /// <summary>
    /// Commits queued writes until none is left, holding the writer role (<see cref="_writeLock"/>). After letting the
    /// role go it looks at the queue once more: a write queued meanwhile found the role taken and relies on this.
    /// </summary>
    private async Task WriteQueuedAsync()
    {
        do
        {
            try
            {
                await DrainAsync();
            }
            finally
            {
                _writeLock.Release();
            }
        }
        while (!_queued.IsEmpty && _writeLock.Wait(0, CancellationToken.None));
    }

    private async Task DrainAsync()
    {
        var batch = new List<PendingWrite>(MaxBatch);
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queued.TryDequeue(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count == 0)
            {
                return;
            }

            await CommitBatchAsync(batch);
        }
    }

    private async Task CommitBatchAsync(List<PendingWrite> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            var done = new List<PendingWrite>(batch.Count);
            try
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                _writer ??= await OpenAsync(CancellationToken.None);
                await using var transaction = _writer.BeginTransaction(deferred: false);
                foreach (var write in batch)
                {
                    if (write.CancellationToken.IsCancellationRequested)
                    {
                        write.Cancel();
                        continue;
                    }

                    transaction.Save(Savepoint);
                    try
                    {
                        await write.RunAsync(_writer, transaction);
                        transaction.Release(Savepoint);
                        done.Add(write);
                    }
                    catch (SqliteException ex) when (IsBusy(ex))
                    {
                        throw;
                    }
                    catch (Exception ex)
                    {
                        transaction.Rollback(Savepoint);
                        transaction.Release(Savepoint);
                        write.Fail(ex);
                    }
                }

                await transaction.CommitAsync(CancellationToken.None);
                foreach (var write in done)
                {
                    write.Complete();
                }

                return;
            }
            catch (SqliteException ex) when (IsBusy(ex) && attempt < MaxAttempts)
            {
                // Another process holds the file: the whole batch was rolled back; run what has not failed again.
                batch.RemoveAll(w => w.IsCompleted);
                var backoff = Math.Min(1000, 10 * (1 << attempt));
                await Task.Delay(TimeSpan.FromMilliseconds(backoff / 2 + Random.Shared.Next(backoff / 2)), CancellationToken.None);
            }
            catch (Exception ex)
            {
                foreach (var write in batch)
                {
                    write.Fail(ex);
                }

                return;
            }
        }
    }

    private static bool IsBusy(SqliteException ex) => ex.SqliteErrorCode is 5 or 6;

    private abstract class PendingWrite(CancellationToken cancellationToken)
    {
        public CancellationToken CancellationToken { get; } = cancellationToken;

        public abstract bool IsCompleted { get; }

        public abstract Task RunAsync(SqliteConnection connection, SqliteTransaction transaction);

        public abstract void Complete();

        public abstract void Fail(Exception exception);

        public abstract void Cancel();
    }

    private sealed class PendingWrite<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> write, CancellationToken cancellationToken)
        : PendingWrite(cancellationToken)
    {
        private T? _result;

        public TaskCompletionSource<T> Source { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool IsCompleted => Source.Task.IsCompleted;

        public override async Task RunAsync(SqliteConnection connection, SqliteTransaction transaction) => _result = await write(connection, transaction);

        public override void Complete() => Source.TrySetResult(_result!);

        public override void Fail(Exception exception) => Source.TrySetException(exception);

        public override void Cancel() => Source.TrySetCanceled(CancellationToken);
    }

    public void Dispose()
    {
        _writeLock.Wait();
        try
        {
            _disposed = true;
            _writer?.Dispose();
            _writer = null;
        }
        finally
        {
            _writeLock.Release();
        }

        while (_idleReaders.TryTake(out var connection))
        {
            connection.Dispose();
        }

        _writeLock.Dispose();
        SqliteConnection.ClearAllPools();
    }
}
