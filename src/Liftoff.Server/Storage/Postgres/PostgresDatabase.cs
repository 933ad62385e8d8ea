using Npgsql;

namespace Liftoff.Server.Storage.Postgres;

/// <summary>
/// The pooled connections to one PostgreSQL database (or schema, through <c>Search Path</c>). Writes run in a
/// READ COMMITTED transaction that locks the rows it reads to change; one that PostgreSQL aborts as a deadlock or a
/// serialization failure (rolled back, so nothing was written) is retried with jittered backoff.
/// </summary>
internal sealed class PostgresDatabase : IAsyncDisposable
{
    private const int MaxAttempts = 6;

    public PostgresDatabase(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        var settings = builder.ConnectionStringBuilder;
        // The same few statements run on every request (key lookup, run lock, history insert): prepare them on each
        // pooled connection after their second use rather than parsing and planning them each time.
        if (settings.MaxAutoPrepare == 0)
        {
            settings.MaxAutoPrepare = 64;
            settings.AutoPrepareMinUsages = 2;
        }

        settings.ApplicationName ??= "liftoff";
        // The store leaves no session state behind (no SET, temporary tables or session locks), so a connection going
        // back to the pool needs no reset statements sent ahead of its next use.
        settings.NoResetOnClose = true;
        ConnectionString = settings.ConnectionString;
        DataSource = builder.Build();
    }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>The settings connections use, password included: for Npgsql only.</summary>
    public string ConnectionString { get; }

    public async Task<T> ReadAsync<T>(Func<NpgsqlConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        return await read(connection);
    }

    /// <summary>Runs <paramref name="write"/> in a transaction; an exception it throws rolls everything back.</summary>
    public async Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> write, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                var result = await write(connection, transaction);
                await transaction.CommitAsync(cancellationToken);
                return result;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure && attempt < MaxAttempts)
            {
                var backoff = Math.Min(1000, 10 * (1 << attempt));
                await Task.Delay(TimeSpan.FromMilliseconds(backoff / 2 + Random.Shared.Next(backoff / 2)), cancellationToken);
            }
        }
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
