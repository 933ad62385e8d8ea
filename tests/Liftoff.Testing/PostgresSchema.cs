using Npgsql;

namespace Liftoff.Testing;

/// <summary>
/// A schema of its own on the test PostgreSQL (LIFTOFF_TEST_POSTGRES, by default the cluster scripts/setup/postgres.sh
/// starts), dropped when disposed: tests isolate by unique names rather than truncating shared tables. A server that
/// cannot be reached fails the test with the reason; it is never skipped.
/// </summary>
public sealed class PostgresSchema : IAsyncDisposable
{
    public const string EnvironmentVariable = "LIFTOFF_TEST_POSTGRES";

    private const string DefaultServer = "Host=127.0.0.1;Port=55432;Username=liftoff;Password=liftoff;Database=liftoff";

    private PostgresSchema(string name, string connectionString)
    {
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    /// <summary>Connects with the schema first on the search path, so everything the server creates lands there.</summary>
    public string ConnectionString { get; }

    public static string Server => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } configured ? configured : DefaultServer;

    public static async Task<PostgresSchema> CreateAsync()
    {
        var name = "t_" + Guid.NewGuid().ToString("N");
        var server = new NpgsqlConnectionStringBuilder(Server);
        try
        {
            await using var connection = new NpgsqlConnection(server.ConnectionString);
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw new InvalidOperationException(
                $"the test PostgreSQL at {server.Host}:{server.Port} (database {server.Database}) is not usable: {ex.Message}. "
                + $"Start it with scripts/setup/postgres.sh (as root), or point {EnvironmentVariable} at another server.", ex);
        }

        // A small pool per schema: test classes run in parallel, each with its servers, on one cluster.
        var scoped = new NpgsqlConnectionStringBuilder(server.ConnectionString) { SearchPath = name, MaxPoolSize = 20 };
        return new PostgresSchema(name, scoped.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        await using var connection = new NpgsqlConnection(Server);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {Name} CASCADE", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
