using System.Net;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Wandb;

/// <summary>
/// Silence means death only for clients that heartbeat: the JS client never does, the Python client does. The server's
/// clock is the test's, so silence lasts as long as the test says, at no real cost.
/// </summary>
public sealed class WandbCrashDetectionTests(FakeClockServerFixture server) : IClassFixture<FakeClockServerFixture>
{
    /// <summary>The fixture server's heartbeat timeout (<see cref="ServerFixture"/>'s default), and then some.</summary>
    private static readonly TimeSpan PastTheTimeout = TimeSpan.FromSeconds(61);

    [Fact]
    public async Task SilentWandbRun_IsNotCrashed_WhileANativeRunSilentAsLongIs()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        using var client = server.Client(key);
        var quiet = WandbWire.NewRunId();
        await wandb.UpsertAsync(quiet);
        await wandb.FileStreamAsync(quiet, WandbWire.Files(("wandb-history.jsonl", 0, ["""{"a": 1, "_step": 0}"""])));
        using var native = server.Http(key);
        var later = (await (await native.PostJsonAsync("/api/v1/runs", """{"project":"p"}""")).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;

        server.Clock.Advance(PastTheTimeout);
        await Poll.UntilAsync(() => client.GetRunAsync(later), r => r.State == "crashed", TimeSpan.FromSeconds(30), "the native run to crash");

        Assert.Equal("running", (await client.GetRunAsync(quiet)).State);
    }

    [Fact]
    public async Task WandbRunThatHeartbeats_IsCrashedWhenItsHeartbeatsStop_AndRevivedByTheNext()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        using var client = server.Client(key);
        var id = WandbWire.NewRunId();
        await wandb.UpsertAsync(id);

        await wandb.FileStreamAsync(id, "{}");
        server.Clock.Advance(PastTheTimeout);
        var crashed = await Poll.UntilAsync(() => client.GetRunAsync(id), r => r.State == "crashed", TimeSpan.FromSeconds(30), "the silent heartbeating run to crash");
        await wandb.FileStreamAsync(id, "{}");

        Assert.NotNull(crashed.EndedAt);
        Assert.Equal("running", (await client.GetRunAsync(id)).State);
    }

    [Fact]
    public async Task PreemptingRun_IsNotCrashedForItsSilence()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        using var client = server.Client(key);
        var id = WandbWire.NewRunId();
        await wandb.UpsertAsync(id);
        await wandb.FileStreamAsync(id, "{}");
        await wandb.FileStreamAsync(id, """{"preempting":true}""");
        using var native = server.Http(key);
        var later = (await (await native.PostJsonAsync("/api/v1/runs", """{"project":"p"}""")).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;

        server.Clock.Advance(PastTheTimeout);
        await Poll.UntilAsync(() => client.GetRunAsync(later), r => r.State == "crashed", TimeSpan.FromSeconds(30), "the native run to crash");

        Assert.Equal("running", (await client.GetRunAsync(id)).State);
    }
}
