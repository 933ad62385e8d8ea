using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Hosting;
using Liftoff.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary><c>liftoff server --database</c> and <c>liftoff server migrate-data</c>, through the real program.</summary>
public sealed class ServerDatabaseTests
{
    [Fact]
    public async Task MigrateData_ThenServerOnPostgres_ServesTheEmbeddedInstallationsRuns()
    {
        using var home = new TempDirectory();
        await using var schema = await PostgresSchema.CreateAsync();
        var cli = new Cli(home.Path);
        var data = Path.Combine(home.Path, "data");
        string key, runId;
        await using (var embedded = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false)))
        {
            key = embedded.InitialAdminKey!;
            using var client = new LiftoffClient(new LiftoffSettings(embedded.BaseUrl, key));
            runId = (await client.InitRunAsync(new InitRunRequest("p", Name: "moved"))).Id;
        }

        var migrated = await cli.RunAsync("server", "migrate-data", "--from", "sqlite://" + data, "--to", schema.ConnectionString);
        var again = await cli.RunAsync("server", "migrate-data", "--from", "sqlite://" + data, "--to", schema.ConnectionString);

        Assert.True(migrated.ExitCode == 0, migrated.ToString());
        Assert.Contains("runs", migrated.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already holds data", again.Stderr, StringComparison.Ordinal);

        var settings = new NpgsqlConnectionStringBuilder(schema.ConnectionString);
        var url = string.Create(CultureInfo.InvariantCulture,
            $"postgres://{settings.Username}:{Uri.EscapeDataString(settings.Password!)}@{settings.Host}:{settings.Port}/{settings.Database}?search_path={schema.Name}");
        var port = LoopbackPort.Free();
        using var server = ProcessRunner.Start("dotnet", [Cli.Dll, "server", "--data-dir", data, "--port", port.ToString(CultureInfo.InvariantCulture)],
            cli.Environment((DatabaseLocation.EnvironmentVariable, url)));
        try
        {
            var banner = (await server.StandardError.ReadLineAsync())!;
            Assert.Contains($"store postgres://{settings.Username}@", banner, StringComparison.Ordinal);
            Assert.DoesNotContain($":{settings.Password}@", banner, StringComparison.Ordinal);
            using var client = new LiftoffClient(new LiftoffSettings(new Uri($"http://127.0.0.1:{port}"), key));
            Assert.Equal("moved", (await client.GetRunAsync(runId)).Name);
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Server_WithANonsenseDatabase_IsAUsageError()
    {
        using var home = new TempDirectory();

        var result = await new Cli(home.Path).RunAsync("server", "--data-dir", home.Path, "--database", "mysql://nope");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--database", result.Stderr, StringComparison.Ordinal);
    }

}
