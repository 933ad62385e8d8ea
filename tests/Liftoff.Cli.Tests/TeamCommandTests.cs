using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class TeamCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task TeamCommands_ManageMembers_AndEntityActsOnTheTeamWithEachRole()
    {
        using var home = new TempDirectory();
        var (admin, lead, bob, outsider) = (Cli(home, "admin"), Cli(home, "lead"), Cli(home, "bob"), Cli(home, "outsider"));
        var (leadName, bobName) = (Name(), Name());
        var team = Name();
        using (var client = server.Client())
        {
            await Login(admin, server.AdminKey);
            await Login(lead, (await client.CreateUserAsync(leadName)).Key.Key);
            await Login(bob, (await client.CreateUserAsync(bobName)).Key.Key, "--entity", team);
            await Login(outsider, (await client.CreateUserAsync(Name())).Key.Key);
        }

        var create = await admin.RunAsync("team", "create", team, "--admin", leadName);
        var notServerAdmin = await lead.RunAsync("team", "create", Name());
        var add = await lead.RunAsync("team", "add-member", team, bobName, "--role", "viewer");
        var badRole = await lead.RunAsync("team", "set-role", team, bobName, "--role", "owner");
        var queue = await lead.RunAsync("queue", "create", "gpu", "--resource", "local-process", "--entity", team);
        var viewerLists = await bob.RunAsync("queue", "list", "--json");
        var viewerDeletes = await bob.RunAsync("queue", "delete", "gpu");
        var outsiderLists = await outsider.RunAsync("queue", "list", "--entity", team);
        var restricted = await lead.RunAsync("queue", "create", "a100", "--resource", "local-process", "--entity", team, "--allowed-member", leadName, "--json");
        var promote = await lead.RunAsync("team", "set-role", team, bobName, "--role", "admin");
        var list = await bob.RunAsync("team", "list", "--json");
        var describe = await bob.RunAsync("team", "describe", team, "--json");
        var table = await lead.RunAsync("team", "describe", team);
        var remove = await bob.RunAsync("team", "remove-member", team, leadName);
        var removedLists = await lead.RunAsync("queue", "list", "--entity", team);

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Equal(1, notServerAdmin.ExitCode);
        Assert.Contains("only the server admin creates teams", notServerAdmin.Stderr, StringComparison.Ordinal);
        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.NotEqual(0, badRole.ExitCode);
        Assert.Contains("owner", badRole.Stderr, StringComparison.Ordinal);
        Assert.True(queue.ExitCode == 0, queue.ToString());
        Assert.True(viewerLists.ExitCode == 0, viewerLists.ToString());
        var listed = JsonDocument.Parse(viewerLists.Stdout).RootElement.GetProperty("queues")[0];
        Assert.Equal(("gpu", team), (listed.GetProperty("name").GetString(), listed.GetProperty("entity").GetString()));
        Assert.Equal(1, viewerDeletes.ExitCode);
        Assert.Contains($"needs the admin role in '{team}'; you are a viewer", viewerDeletes.Stderr, StringComparison.Ordinal);
        Assert.Equal(4, outsiderLists.ExitCode);
        Assert.Contains($"no entity '{team}'", outsiderLists.Stderr, StringComparison.Ordinal);
        Assert.True(restricted.ExitCode == 0, restricted.ToString());
        Assert.Equal([leadName], JsonDocument.Parse(restricted.Stdout).RootElement.GetProperty("allowed_members").EnumerateArray().Select(m => m.GetString()));
        Assert.True(promote.ExitCode == 0, promote.ToString());
        Assert.Contains(JsonDocument.Parse(list.Stdout).RootElement.GetProperty("teams").EnumerateArray(),
            t => t.GetProperty("name").GetString() == team && t.GetProperty("role").GetString() == "admin");
        Assert.Equal(new[] { leadName, bobName }.Order(StringComparer.Ordinal),
            JsonDocument.Parse(describe.Stdout).RootElement.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("user").GetString()));
        Assert.Contains(bobName, table.Stdout, StringComparison.Ordinal);
        Assert.True(remove.ExitCode == 0, remove.ToString());
        Assert.Equal(4, removedLists.ExitCode);
    }

    private static Cli Cli(TempDirectory home, string who) => new(Directory.CreateDirectory(Path.Combine(home.Path, who)).FullName);

    private async Task Login(Cli cli, string key, params string[] extra)
    {
        var result = await cli.RunAsync(["login", "--url", server.BaseUrl.ToString(), "--key", key, .. extra]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private static string Name() => "n" + Guid.NewGuid().ToString("N")[..10];
}
