using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary><c>liftoff agent list</c> against a server whose clock the test moves, so an agent falls silent without waiting.</summary>
public sealed class AgentListTests(FakeClockServerFixture server) : IClassFixture<FakeClockServerFixture>
{
    [Fact]
    public async Task AgentList_WhenAnAgentStoppedHeartbeatingTwelveMinutesAgo_ShowsItOfflineWithWhenItWasLastSeen()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        using var client = server.Client(key);
        await client.CreateQueueAsync(new CreateQueueRequest("gpu", Resources.LocalProcess));
        var dead = await client.RegisterAgentAsync(new RegisterAgentRequest("sigkilled", ["gpu"], Host: "node-7"));
        var alive = await client.RegisterAgentAsync(new RegisterAgentRequest("alive", ["gpu"], Host: "node-8"));
        await client.AgentHeartbeatAsync(dead.Id, new AgentHeartbeatRequest(AgentStates.Running, 1));
        var lastSeen = server.Clock.GetUtcNow();

        server.Clock.Advance(TimeSpan.FromMinutes(12));
        await client.AgentHeartbeatAsync(alive.Id, new AgentHeartbeatRequest(AgentStates.Polling, 0));
        var table = await cli.RunAsync("agent", "list");
        var json = await cli.RunAsync("agent", "list", "--json");

        Assert.True(table.ExitCode == 0, table.ToString());
        var deadRow = table.Stdout.Split('\n').Single(l => l.Contains(dead.Id, StringComparison.Ordinal));
        Assert.Contains("offline", deadRow, StringComparison.Ordinal);
        Assert.Contains("last seen " + lastSeen.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), deadRow, StringComparison.Ordinal);
        Assert.DoesNotContain("1/1", deadRow, StringComparison.Ordinal);
        var aliveRow = table.Stdout.Split('\n').Single(l => l.Contains(alive.Id, StringComparison.Ordinal));
        Assert.Contains("polling", aliveRow, StringComparison.Ordinal);
        Assert.DoesNotContain("last seen", aliveRow, StringComparison.Ordinal);
        var listed = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("id").GetString() == dead.Id);
        Assert.Equal(AgentStates.Offline, listed.GetProperty("state").GetString());
        Assert.Equal(lastSeen, listed.GetProperty("last_heartbeat_at").GetDateTimeOffset());
    }
}
