using Liftoff.Client;
using Liftoff.Server.Hosting;
using Liftoff.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Liftoff.Bench.Postgres;

/// <summary>
/// A real server on a free loopback port on one store: SQLite in a temp directory, or a fresh PostgreSQL schema; or
/// several replicas on one PostgreSQL schema and one data directory behind haproxy.
/// </summary>
internal sealed class StoreUnderTest : IAsyncDisposable
{
    private readonly IReadOnlyList<LiftoffServer> _servers;
    private readonly LoadBalancer? _balancer;
    private readonly string _data;
    private readonly string? _server;
    private readonly string? _schema;

    private StoreUnderTest(string label, IReadOnlyList<LiftoffServer> servers, LoadBalancer? balancer, string data, string? postgres, string? schema)
    {
        Label = label;
        _servers = servers;
        _balancer = balancer;
        _data = data;
        _server = postgres;
        _schema = schema;
        Key = servers[0].InitialAdminKey!;
    }

    public string Label { get; }

    /// <summary>Where clients go: the server, or the balancer in front of the replicas.</summary>
    public Uri BaseUrl => _balancer?.BaseUrl ?? _servers[0].BaseUrl;

    public string Key { get; }

    public LiftoffClient Client() => new(new LiftoffSettings(BaseUrl, Key));

    public static async Task<StoreUnderTest> SqliteAsync()
    {
        var data = Directory.CreateTempSubdirectory("liftoff-bench-").FullName;
        var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false));
        return new StoreUnderTest("sqlite (WAL, synchronous=NORMAL)", [server], null, data, null, null);
    }

    /// <summary>A server on a schema of its own; <paramref name="synchronousCommit"/> sets whether each commit waits for the disk.</summary>
    public static async Task<StoreUnderTest> PostgresAsync(string postgres, string synchronousCommit)
    {
        var (schema, database) = await CreateSchemaAsync(postgres, synchronousCommit);
        var data = Directory.CreateTempSubdirectory("liftoff-bench-").FullName;
        var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0, Database = database }, logging => logging.AddFilter(_ => false));
        return new StoreUnderTest($"postgres (synchronous_commit={synchronousCommit})", [server], null, data, postgres, schema);
    }

    /// <summary>
    /// <paramref name="replicas"/> servers on one schema (commits not waiting for the disk, as the test cluster runs) and
    /// one data directory, in this process, behind haproxy on loopback: clients reach them only through the balancer.
    /// </summary>
    public static async Task<StoreUnderTest> ReplicasAsync(string postgres, int replicas)
    {
        var (schema, database) = await CreateSchemaAsync(postgres, "off");
        var data = Directory.CreateTempSubdirectory("liftoff-bench-").FullName;
        var servers = new List<LiftoffServer>();
        for (var i = 0; i < replicas; i++)
        {
            servers.Add(await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0, Database = database }, logging => logging.AddFilter(_ => false)));
        }

        var balancer = await LoadBalancer.StartAsync([.. servers.Select(s => s.BaseUrl)]);
        return new StoreUnderTest($"postgres, {replicas} replica(s) behind haproxy", servers, balancer, data, postgres, schema);
    }

    private static async Task<(string Schema, string Database)> CreateSchemaAsync(string postgres, string synchronousCommit)
    {
        var schema = "bench_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(postgres))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            await create.ExecuteNonQueryAsync();
        }

        var settings = new NpgsqlConnectionStringBuilder(postgres) { SearchPath = schema, Options = $"-c synchronous_commit={synchronousCommit}" };
        return (schema, settings.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (_balancer is not null)
        {
            await _balancer.DisposeAsync();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

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
