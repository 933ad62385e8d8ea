using Liftoff.Contracts;
using Liftoff.Server.Storage;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Liftoff.Web.Tests;

/// <summary>An agent that died without a word (SIGKILL, a lost host) shows offline on its queue's page.</summary>
[Collection(WebCollection.Name)]
public sealed class AgentLivenessTests(BrowserFixture server)
{
    [Fact]
    public async Task QueuePage_AnAgentSilentForTwelveMinutes_ShowsOfflineWithWhenItWasLastSeen()
    {
        var key = await server.NewUserKeyAsync();
        using var client = server.Client(key);
        var queue = await client.CreateQueueAsync(new CreateQueueRequest("gpu", Resources.LocalProcess));
        var dead = await client.RegisterAgentAsync(new RegisterAgentRequest("sigkilled", ["gpu"]));
        var alive = await client.RegisterAgentAsync(new RegisterAgentRequest("alive", ["gpu"]));
        await client.AgentHeartbeatAsync(dead.Id, new AgentHeartbeatRequest(AgentStates.Running, 1));
        // The browser runs on the real clock, so the server's is not moved: the store holds what twelve minutes of
        // silence leave behind, a last heartbeat twelve minutes old.
        var lastSeen = DateTimeOffset.UtcNow.AddMinutes(-12);
        var services = server.Server.Services;
        var entityId = (await services.GetRequiredService<IIdentityStore>().FindEntityAsync(queue.Entity, default))!.Id;
        await services.GetRequiredService<IQueueStore>().UpdateAgentAsync(entityId, dead.Id, a => a with { HeartbeatAt = lastSeen }, default);
        await using var site = await server.SignInAsync(key);
        var page = site.Page;

        await site.GoAsync("#/queues");
        await Expect(page.Locator("main .table-wrap tbody tr")).ToContainTextAsync("sigkilled (offline)");
        await page.GetByRole(AriaRole.Link, new() { Name = "gpu" }).ClickAsync();
        var rows = page.Locator("section[aria-labelledby='agents-h'] tbody tr");
        var deadRow = rows.Filter(new() { HasText = "sigkilled" });
        await Expect(deadRow.Locator(".state")).ToHaveTextAsync("offline");
        await Expect(deadRow).ToContainTextAsync("last seen 12m ");
        await Expect(deadRow).Not.ToContainTextAsync("1 / 1");
        var aliveRow = rows.Filter(new() { HasText = "alive" });
        await Expect(aliveRow.Locator(".state")).ToHaveTextAsync("polling");
        await Expect(aliveRow).Not.ToContainTextAsync("last seen");
        await site.ScreenshotAsync("queue-agent-offline");
        Assert.Empty(site.Errors);
    }
}
