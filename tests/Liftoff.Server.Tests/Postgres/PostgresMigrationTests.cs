using Liftoff.Server.Hosting;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Relational;
using Liftoff.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit;

namespace Liftoff.Server.Tests.Postgres;

public sealed class PostgresMigrationTests
{
    [Fact]
    public async Task Migrations_RunFromSeveralStartsAtOnce_ApplyEachStepOnce()
    {
        await using var schema = await PostgresSchema.CreateAsync();
        var databases = Enumerable.Range(0, 6).Select(_ => new PostgresDatabase(schema.ConnectionString)).ToList();
        try
        {
            await Task.WhenAll(databases.Select(d => Task.Run(() => Migrations.ApplyAsync(d, default))));

            await using var connection = await databases[0].DataSource.OpenConnectionAsync();
            await using var read = new NpgsqlCommand("SELECT version FROM schema_migrations ORDER BY version", connection);
            await using var reader = await read.ExecuteReaderAsync();
            var versions = new List<int>();
            while (await reader.ReadAsync())
            {
                versions.Add(reader.GetInt32(0));
            }

            Assert.Equal(Migrations.Versions, versions);
        }
        finally
        {
            foreach (var database in databases)
            {
                await database.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Servers_StartingAtOnceOnAnEmptyDatabase_AllServeAndOneCreatesTheAdmin()
    {
        await using var schema = await PostgresSchema.CreateAsync();
        using var data = new TempDirectory();

        var servers = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => LiftoffServer.StartAsync(
            new ServerOptions { DataDirectory = data.Path, Database = schema.ConnectionString, Port = 0 }, logging => logging.AddFilter(_ => false)))));
        try
        {
            var key = Assert.Single(servers, s => s.InitialAdminKey is not null).InitialAdminKey!;
            foreach (var server in servers)
            {
                Assert.True(await server.IsActiveKeyAsync(key, default));
            }
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Start_OnAnUnreachableDatabase_FailsNamingItWithoutThePassword()
    {
        using var data = new TempDirectory();

        var error = await Assert.ThrowsAnyAsync<NpgsqlException>(() => LiftoffServer.StartAsync(
            new ServerOptions { DataDirectory = data.Path, Database = "postgres://liftoff:s3cret-pw@127.0.0.1:1/none?timeout=2", Port = 0 },
            logging => logging.AddFilter(_ => false)));

        Assert.DoesNotContain("s3cret-pw", error.ToString(), StringComparison.Ordinal);
    }
}
