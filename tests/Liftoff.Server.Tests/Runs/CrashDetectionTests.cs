using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Runs;

/// <summary>
/// Crash detection over HTTP, on a server clock the test moves: the run heartbeat API keeps a run alive and revives a
/// crashed one. Which runs the reaper crashes is in the store contract (StoreContract.Leases.cs).
/// </summary>
public sealed class CrashDetectionTests(FakeClockServerFixture server) : IClassFixture<FakeClockServerFixture>
{
    /// <summary>The fixture server's heartbeat timeout (<see cref="ServerFixture"/>'s default), and then some.</summary>
    private static readonly TimeSpan PastTheTimeout = TimeSpan.FromSeconds(61);

    [Fact]
    public async Task SilentRun_BecomesCrashed_WhileAHeartbeatingOneKeepsRunning_AndAHeartbeatRevivesIt()
    {
        using var client = server.Client(await server.NewUserKeyAsync());
        var silent = await client.InitRunAsync(new InitRunRequest("p"));
        var alive = await client.InitRunAsync(new InitRunRequest("p"));

        server.Clock.Advance(PastTheTimeout / 2);
        await client.HeartbeatAsync(alive.Id);
        server.Clock.Advance(PastTheTimeout / 2);
        var crashed = await Poll.UntilAsync(() => client.GetRunAsync(silent.Id), r => r.State == "crashed", TimeSpan.FromSeconds(30), "the server's reaper to crash the silent run");

        Assert.Equal(server.Clock.GetUtcNow(), crashed.EndedAt);
        Assert.Equal("running", (await client.GetRunAsync(alive.Id)).State);
        Assert.Equal("running", (await client.HeartbeatAsync(silent.Id)).State);
    }
}
