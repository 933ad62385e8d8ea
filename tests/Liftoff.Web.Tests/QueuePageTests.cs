using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Testing;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Liftoff.Web.Tests;

/// <summary>A queue nobody polls: its pending items in claim order, each with its place and why it waits, moved, cancelled and paused from the page.</summary>
[Collection(WebCollection.Name)]
public sealed class QueuePageTests(BrowserFixture server)
{
    [Fact]
    public async Task PendingItems_ShowInClaimOrder_AndCancelMovesOneToEnded()
    {
        var key = await server.NewUserKeyAsync();
        using var client = server.Client(key);
        using (var http = server.Http(key))
        {
            await TestJobs.CreateRepoJobAsync(http, "p", "train", configDefaults: """{"lr":0.1}""");
        }

        await client.CreateQueueAsync(new CreateQueueRequest("idle", Resources.LocalProcess));
        var low = await client.EnqueueAsync("idle", new EnqueueRequest("train", "p", Priority: "low"));
        var critical = await client.EnqueueAsync("idle", new EnqueueRequest("train", "p", Priority: "critical"));
        var medium = await client.EnqueueAsync("idle", new EnqueueRequest("train", "p", JsonDocument.Parse("""{"lr":0.5}""").RootElement.Clone()));
        await using var site = await server.SignInAsync(key);
        var page = site.Page;

        await page.GetByRole(AriaRole.Link, new() { Name = "Queues" }).ClickAsync();
        await Expect(page.Locator("main .table-wrap tbody tr")).ToContainTextAsync("3 pending");
        await page.GetByRole(AriaRole.Link, new() { Name = "idle" }).ClickAsync();
        var pending = page.Locator("section[aria-labelledby='pending-h'] tbody tr");
        await Expect(pending).ToHaveCountAsync(3);
        Assert.Equal([critical.Id, medium.Id, low.Id], await pending.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.item)"));
        await Expect(page.GetByText("No agent is polling this queue")).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = $"Cancel item {medium.Id}" }).ClickAsync();
        await Expect(pending).ToHaveCountAsync(2);
        await Expect(page.Locator($"section[aria-labelledby='ended-h'] tr[data-item='{medium.Id}']")).ToContainTextAsync("cancelled");
        Assert.Equal(ItemStates.Cancelled, (await client.GetItemAsync(medium.Id)).State);

        // A change made elsewhere shows without reloading.
        await client.CancelItemAsync(low.Id);
        await Expect(pending).ToHaveCountAsync(1);
        await site.ScreenshotAsync("queue-pending");
        Assert.Empty(site.Errors);
    }

    [Fact]
    public async Task PendingItems_MovedToTheTopOrBottom_ChangeTheClaimOrder_AndPausingShowsWhyTheyWait()
    {
        var key = await server.NewUserKeyAsync();
        using var client = server.Client(key);
        using (var http = server.Http(key))
        {
            await TestJobs.CreateRepoJobAsync(http, "p", "train");
        }

        await client.CreateQueueAsync(new CreateQueueRequest("line", Resources.LocalProcess));
        var a = await client.EnqueueAsync("line", new EnqueueRequest("train", "p"));
        var b = await client.EnqueueAsync("line", new EnqueueRequest("train", "p"));
        var c = await client.EnqueueAsync("line", new EnqueueRequest("train", "p"));
        await using var site = await server.SignInAsync(key);
        var page = site.Page;
        await site.GoAsync("#/queues/line");
        var pending = page.Locator("section[aria-labelledby='pending-h'] tbody tr");
        await Expect(pending).ToHaveCountAsync(3);

        await page.GetByRole(AriaRole.Button, new() { Name = $"Move item {c.Id} to the top of its priority" }).ClickAsync();
        await Expect(pending.First).ToHaveAttributeAsync("data-item", c.Id);
        await page.GetByRole(AriaRole.Button, new() { Name = $"Move item {a.Id} to the bottom of its priority" }).ClickAsync();
        await Expect(pending.Last).ToHaveAttributeAsync("data-item", a.Id);

        Assert.Equal([c.Id, b.Id, a.Id], (await client.ListItemsAsync("line")).Items.Select(i => i.Id));
        await Expect(pending.First.Locator("td.reason")).ToHaveTextAsync("1st in line on line; no agent polls line");
        await Expect(pending.Last.Locator("td.pos")).ToHaveTextAsync("3");

        await page.GetByRole(AriaRole.Button, new() { Name = "Pause queue" }).ClickAsync();
        await Expect(pending.First.Locator("td.reason")).ToHaveTextAsync("queue line is paused; 1st in line on line once it resumes");
        Assert.True((await client.GetQueueAsync("line")).Paused);
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume queue" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Pause queue" })).ToBeVisibleAsync();
        Assert.False((await client.GetQueueAsync("line")).Paused);
        Assert.Equal("moved to the top of its priority by " + (await client.GetViewerAsync()).Entity, (await client.GetItemHistoryAsync(c.Id)).Events[^1].Message);
        await site.ScreenshotAsync("queue-moved");
        Assert.Empty(site.Errors);
    }
}
