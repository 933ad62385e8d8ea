using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

public sealed class AgentCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task AgentList_WithARunningAgent_ShowsItsQueuesStateAndHeartbeat()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var agent = await harness.StartAgentAsync();

        var json = await RunAsync(harness.Key, "agent", "list", "--json");
        var table = await RunAsync(harness.Key, "agent", "list");

        Assert.True(json.ExitCode == 0, json.ToString());
        var listed = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("agents").EnumerateArray().Single();
        Assert.Equal(agent.Id, listed.GetProperty("id").GetString());
        Assert.Equal(harness.Queue, listed.GetProperty("queues")[0].GetString());
        Assert.Equal("polling", listed.GetProperty("state").GetString());
        Assert.True(listed.TryGetProperty("last_heartbeat_at", out _));
        Assert.Contains(agent.Id, table.Stdout, StringComparison.Ordinal);
        Assert.Contains(harness.Queue, table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_WithoutAQueue_FailsWithUsage()
    {
        var result = await RunAsync("local-unused", "agent");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("liftoff: no queue to poll: give --queue NAME (or queues: in the config file)", result.Stderr.Trim());
    }

    [Fact]
    public async Task Agent_WithAnUnknownConfigKey_FailsNamingIt()
    {
        using var dir = new TempDirectory();
        var config = dir.File("agent.yaml", "queues: [default]\nmax_job: 3\n");

        var result = await RunAsync("local-unused", "agent", "--config", config);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{config} line 2", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("max_job", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_OnAMissingQueue_SaysHowToCreateIt()
    {
        var key = await server.NewUserKeyAsync();

        var result = await RunAsync(key, "agent", "--queue", "nowhere");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("queue 'nowhere' does not exist; create it with: liftoff queue create nowhere --resource local-process", result.Stderr, StringComparison.Ordinal);
    }

    private Task<ProcessResult> RunAsync(string key, params string[] args)
    {
        using var home = new TempDirectory();
        return ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll"), .. args], new Dictionary<string, string?>
        {
            ["HOME"] = home.Path,
            ["LIFTOFF_BASE_URL"] = server.BaseUrl.ToString(),
            ["LIFTOFF_API_KEY"] = key,
            ["NO_COLOR"] = "1",
            ["COLUMNS"] = "250",
        });
    }
}
