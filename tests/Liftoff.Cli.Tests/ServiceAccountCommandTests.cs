using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class ServiceAccountCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task ServiceAccountCommands_CreateListKeyAndDelete_AndTheKeyActsInTheTeamOnly()
    {
        using var home = new TempDirectory();
        var (admin, lead, robot) = (Cli(home, "admin"), Cli(home, "lead"), Cli(home, "robot"));
        var (leadName, team) = (Name(), Name());
        using (var client = server.Client())
        {
            await Login(admin, server.AdminKey);
            await Login(lead, (await client.CreateUserAsync(leadName)).Key.Key, "--entity", team);
        }

        Assert.Equal(0, (await admin.RunAsync("team", "create", team, "--admin", leadName)).ExitCode);
        Assert.Equal(0, (await lead.RunAsync("queue", "create", "gpu", "--resource", "local-process")).ExitCode);
        var create = await lead.RunAsync("service-account", "create", "ci", "--team", team, "--role", "viewer", "--json");
        var badRole = await lead.RunAsync("service-account", "create", "ci2", "--team", team, "--role", "owner");
        var key = await lead.RunAsync("service-account", "key", "create", "ci", "--team", team, "--name", "deploy");
        var agentKey = await lead.RunAsync("service-account", "key", "create", "ci", "--team", team, "--agent", "--queue", "gpu", "--json");
        var queueWithoutAgent = await lead.RunAsync("service-account", "key", "create", "ci", "--team", team, "--queue", "gpu");
        var list = await lead.RunAsync("service-account", "list", "--team", team, "--json");
        var keys = await lead.RunAsync("service-account", "key", "list", "ci", "--team", team);
        await Login(robot, key.Stdout.Trim());
        var robotLists = await robot.RunAsync("queue", "list", "--json");
        var robotLaunches = await robot.RunAsync("queue", "create", "cpu", "--resource", "local-process");
        var agentKeyId = JsonDocument.Parse(agentKey.Stdout).RootElement.GetProperty("id").GetString()!;
        var revoke = await lead.RunAsync("service-account", "key", "revoke", "ci", agentKeyId, "--team", team);
        var delete = await lead.RunAsync("service-account", "delete", "ci", "--team", team);
        var afterDelete = await robot.RunAsync("queue", "list");
        var audit = await lead.RunAsync("audit", "--json");

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Equal(("viewer", $"ci@{team}"), (JsonDocument.Parse(create.Stdout).RootElement.GetProperty("role").GetString(), JsonDocument.Parse(create.Stdout).RootElement.GetProperty("actor").GetString()));
        Assert.NotEqual(0, badRole.ExitCode);
        Assert.True(key.ExitCode == 0, key.ToString());
        Assert.StartsWith("local-", key.Stdout.Trim(), StringComparison.Ordinal);
        Assert.Contains("shown only this once", key.Stderr, StringComparison.Ordinal);
        Assert.Equal(["gpu"], JsonDocument.Parse(agentKey.Stdout).RootElement.GetProperty("agent_queues").EnumerateArray().Select(q => q.GetString()));
        Assert.NotEqual(0, queueWithoutAgent.ExitCode);
        Assert.Contains("--agent", queueWithoutAgent.Stderr, StringComparison.Ordinal);
        Assert.Equal(["ci"], JsonDocument.Parse(list.Stdout).RootElement.GetProperty("service_accounts").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
        Assert.Contains("deploy", keys.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Stdout.Trim(), keys.Stdout, StringComparison.Ordinal);
        Assert.True(robotLists.ExitCode == 0, robotLists.ToString());
        Assert.Equal(team, JsonDocument.Parse(robotLists.Stdout).RootElement.GetProperty("queues")[0].GetProperty("entity").GetString());
        Assert.Equal(1, robotLaunches.ExitCode);
        Assert.Contains($"needs the admin role in '{team}'; you are a viewer", robotLaunches.Stderr, StringComparison.Ordinal);
        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.NotEqual(0, afterDelete.ExitCode);
        var actions = JsonDocument.Parse(audit.Stdout).RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("service-account.create", actions);
        Assert.Contains("service-account.key.create", actions);
        Assert.Contains("service-account.key.revoke", actions);
        Assert.Contains("service-account.delete", actions);
        Assert.Contains(JsonDocument.Parse(audit.Stdout).RootElement.GetProperty("entries").EnumerateArray(),
            e => e.GetProperty("action").GetString() == "queue.create" && e.GetProperty("actor_kind").GetString() == "service_account" && e.GetProperty("outcome").GetString() == "denied");
    }

    [Fact]
    public async Task KeysCreate_Agent_MakesAnAgentOnlyKey_ThatListsItsQueues_AndIsRefusedElsewhere()
    {
        using var home = new TempDirectory();
        var (user, agent) = (Cli(home, "user"), Cli(home, "agent"));
        using (var client = server.Client())
        {
            await Login(user, (await client.CreateUserAsync(Name())).Key.Key);
        }

        var created = await user.RunAsync("keys", "create", "--name", "box", "--agent", "--queue", "gpu", "--queue", "cpu");
        var listed = await user.RunAsync("keys", "list");
        await Login(agent, created.Stdout.Trim());
        var runs = await agent.RunAsync("runs", "list");

        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("agent-only on cpu, gpu", created.Stderr, StringComparison.Ordinal);
        Assert.Contains("cpu, gpu", listed.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, runs.ExitCode);
        Assert.Contains("this API key is agent-only", runs.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueueEdit_ChangesWhatItNamesAndKeepsTheRest_AndBadInputChangesNothing()
    {
        using var home = new TempDirectory();
        var user = Cli(home, "user");
        using (var client = server.Client())
        {
            await Login(user, (await client.CreateUserAsync(Name())).Key.Key);
        }

        var config = Path.Combine(home.Path, "queue.yaml");
        await File.WriteAllTextAsync(config, "env:\n  MODE: fast\n");
        Assert.Equal(0, (await user.RunAsync("queue", "create", "q", "--resource", "local-process", "--max-attempts", "2", "--start-timeout", "60")).ExitCode);

        var edit = await user.RunAsync("queue", "edit", "q", "--config", config, "--max-attempts", "5", "--json");
        var bad = await user.RunAsync("queue", "edit", "q", "--max-attempts", "0");
        var missing = await user.RunAsync("queue", "edit", "none", "--max-attempts", "5");
        var described = await user.RunAsync("queue", "describe", "q", "--json");

        Assert.True(edit.ExitCode == 0, edit.ToString());
        var queue = JsonDocument.Parse(described.Stdout).RootElement;
        Assert.Equal((5, 60, "fast"), (queue.GetProperty("max_attempts").GetInt32(), queue.GetProperty("start_timeout_seconds").GetInt32(),
            queue.GetProperty("config").GetProperty("env").GetProperty("MODE").GetString()));
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("max_attempts", bad.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("queue 'none' not found", missing.Stderr, StringComparison.Ordinal);
    }

    private static Cli Cli(TempDirectory home, string who) => new(Directory.CreateDirectory(Path.Combine(home.Path, who)).FullName);

    private async Task Login(Cli cli, string key, params string[] extra)
    {
        var result = await cli.RunAsync(["login", "--url", server.BaseUrl.ToString(), "--key", key, .. extra]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private static string Name() => "n" + Guid.NewGuid().ToString("N")[..10];
}
