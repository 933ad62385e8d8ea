using Liftoff.Client;
using Liftoff.Server.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Liftoff.Bench.Postgres;

/// <summary>A real server on a free loopback port on one store: SQLite in a temp directory, or a fresh PostgreSQL schema.</summary>
internal sealed class StoreUnderTest : IAsyncDisposable
{
    private readonly string _data;
    private readonly string? _server;
    private readonly string? _schema;

    private StoreUnderTest(string label, LiftoffServer server, string data, string? postgres, string? schema)
    {
        Label = label;
        Server = server;
        _data = data;
        _server = postgres;
        _schema = schema;
    }

    public string Label { get; }

    public LiftoffServer Server { get; }

    public string Key => Server.InitialAdminKey!;

    public LiftoffClient Client() => new(new LiftoffSettings(Server.BaseUrl, Key));

    public static async Task<StoreUnderTest> SqliteAsync()
    {
        var data = Directory.CreateTempSubdirectory("liftoff-bench-").FullName;
        var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false));
        return new StoreUnderTest("sqlite (WAL, synchronous=NORMAL)", server, data, null, null);
    }

    /// <summary>A server on a schema of its own; <paramref name="synchronousCommit"/> sets whether each commit waits for the disk.</summary>
    public static async Task<StoreUnderTest> PostgresAsync(string postgres, string synchronousCommit)
    {
        var schema = "bench_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(postgres))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var settings = new NpgsqlConnectionStringBuilder(postgres) { SearchPath = schema, Options = $"-c synchronous_commit={synchronousCommit}" };
        var data = Directory.CreateTempSubdirectory("liftoff-bench-").FullName;
        var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0, Database = settings.ConnectionString }, logging => logging.AddFilter(_ => false));
        return new StoreUnderTest($"postgres (synchronous_commit={synchronousCommit})", server, data, postgres, schema);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_data, recursive: true);
        if (_server is not null)
        {
            await using var connection = new NpgsqlConnection(_server);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA {_schema} CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }
}
