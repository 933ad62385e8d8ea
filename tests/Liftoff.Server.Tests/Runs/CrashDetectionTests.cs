using System.Net;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Runs;

public sealed class CrashDetectionTests(FastCrashServerFixture server) : IClassFixture<FastCrashServerFixture>
{
    [Fact]
    public async Task SilentRun_BecomesCrashed_AndAHeartbeatRevivesIt()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        using var client = server.Client(key);
        var run = await (await http.PostJsonAsync("/api/v1/runs", """{"project":"p"}""")).JsonAsync(HttpStatusCode.Created);
        var id = run.GetProperty("id").GetString()!;

        var crashed = await Poll.UntilAsync(() => client.GetRunAsync(id), r => r.State == "crashed", TimeSpan.FromSeconds(30), "the silent run to crash");
        var beat = await client.HeartbeatAsync(id);

        Assert.NotNull(crashed.EndedAt);
        Assert.Equal("running", beat.State);
    }

    [Fact]
    public async Task HeartbeatingRun_IsNotCrashed()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        using var client = server.Client(key);
        var silent = (await (await http.PostJsonAsync("/api/v1/runs", """{"project":"p"}""")).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;
        var alive = (await (await http.PostJsonAsync("/api/v1/runs", """{"project":"p"}""")).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;

        await Poll.UntilAsync(async () =>
        {
            await client.HeartbeatAsync(alive);
            return (await client.GetRunAsync(silent)).State;
        }, s => s == "crashed", TimeSpan.FromSeconds(30), "the silent run to crash while the other heartbeats");

        Assert.Equal("running", (await client.GetRunAsync(alive)).State);
    }
}
