using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class AuditCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Audit_ShowsYourEntitysEntries_FilteredBySinceActorAndAction()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var user = "u" + Guid.NewGuid().ToString("N")[..10];
        using (var admin = server.Client())
        {
            var created = await admin.CreateUserAsync(user);
            Assert.Equal(0, (await cli.RunWithInputAsync(created.Key.Key + "\n", "login", "--url", server.BaseUrl.ToString())).ExitCode);
        }

        Assert.Equal(0, (await cli.RunWithInputAsync("value-never-shown\n", "secret", "set", "API_TOKEN")).ExitCode);
        Assert.Equal(0, (await cli.RunAsync("secret", "delete", "API_TOKEN")).ExitCode);

        var json = await cli.RunAsync("audit", "--since", "1h", "--actor", user, "--action", "secret.set", "--json");
        var table = await cli.RunAsync("audit");
        var future = await cli.RunAsync("audit", "--since", "2999-01-01T00:00:00Z", "--json");
        var bad = await cli.RunAsync("audit", "--since", "yesterday");

        Assert.True(json.ExitCode == 0, json.ToString());
        var entry = Assert.Single(JsonDocument.Parse(json.Stdout).RootElement.GetProperty("entries").EnumerateArray());
        Assert.Equal(("secret.set", "API_TOKEN", user, "ok"),
            (entry.GetProperty("action").GetString(), entry.GetProperty("object").GetString(), entry.GetProperty("actor").GetString(), entry.GetProperty("outcome").GetString()));
        Assert.Contains("secret.delete", table.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("value-never-shown", table.ToString() + json, StringComparison.Ordinal);
        Assert.Empty(JsonDocument.Parse(future.Stdout).RootElement.GetProperty("entries").EnumerateArray());
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--since", bad.Stderr, StringComparison.Ordinal);
    }
}
