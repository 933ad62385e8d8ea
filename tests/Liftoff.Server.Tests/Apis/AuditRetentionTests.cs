using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Server.Hosting;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>The retention sweep, on the server's clock moved by the test.</summary>
public sealed class AuditRetentionTests(FakeClockServerFixture server) : IClassFixture<FakeClockServerFixture>
{
    [Fact]
    public async Task Sweep_DeletesEntriesOlderThanTheRetention_AndKeepsNewerOnes()
    {
        var key = await server.NewUserKeyAsync();
        await PutSecretAsync(key, "OLD");
        var retention = server.Server.Services.GetRequiredService<ServerOptions>().AuditRetention;
        Assert.Equal(TimeSpan.FromDays(ServerOptions.DefaultAuditRetentionDays), retention);

        server.Clock.Advance(retention - TimeSpan.FromHours(2));
        await PutSecretAsync(key, "NEW");
        server.Clock.Advance(TimeSpan.FromHours(3));

        var left = await Poll.UntilAsync(() => ObjectsAsync(key), objects => !objects.Contains("OLD"), TimeSpan.FromSeconds(30), "the sweep deletes the entry older than the retention");
        Assert.Equal(["NEW"], left);
    }

    private async Task PutSecretAsync(string key, string name)
    {
        using var http = server.Http(key);
        using var response = await http.PutAsync($"/api/v1/secrets/{name}", new StringContent("""{"value":"v"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<List<string?>> ObjectsAsync(string key)
    {
        using var http = server.Http(key);
        var page = JsonDocument.Parse(await http.GetStringAsync("/api/v1/audit?action=secret.set")).RootElement;
        return [.. page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("object").GetString())];
    }
}
