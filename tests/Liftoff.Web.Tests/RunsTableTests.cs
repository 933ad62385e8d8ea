using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Liftoff.Contracts;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace Liftoff.Web.Tests;

/// <summary>The Runs tab over a project of 10,000 runs: the server sorts, filters and pages; the page stays quick.</summary>
[Collection(WebCollection.Name)]
public sealed class RunsTableTests(BrowserFixture server, ITestOutputHelper output)
{
    private const int Runs = 10_000;

    [Fact]
    public async Task TenThousandRuns_FilterSortAndPage_OnTheServer()
    {
        var key = await server.NewUserKeyAsync();
        var ids = new string[Runs];
        var created = Stopwatch.StartNew();
        using (var http = server.Http(key))
        {
            // Runs i ≡ 1 (mod 10) finish: 1,000 finished runs, all with an odd i and so opt = sgd.
            await Parallel.ForEachAsync(Enumerable.Range(0, Runs), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
            {
                var lr = (i / (double)Runs).ToString("0.0000", CultureInfo.InvariantCulture);
                var opt = i % 2 == 0 ? "adam" : "sgd";
                using var init = await http.PostAsync("/api/v1/runs", Json($$$"""{"project":"sweep","name":"r{{{i:00000}}}","config":{"lr":{{{lr}}},"opt":"{{{opt}}}"}}"""), ct);
                ids[i] = (await init.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString()!;
                if (i % 10 == 1)
                {
                    using var finish = await http.PostAsync($"/api/v1/runs/{ids[i]}/finish", Json("""{"exit_code":0}"""), ct);
                    finish.EnsureSuccessStatusCode();
                }
            });
            output.WriteLine($"created {Runs} runs in {created.Elapsed.TotalSeconds:0.0} s");
            foreach (var query in new[] { "limit=50&offset=0&count=true", "state=finished&filter=config.lr%3E%3D0.5&sort=-config.lr&limit=50&offset=450&count=true" })
            {
                var timer = Stopwatch.StartNew();
                using var listed = await http.GetAsync($"/api/v1/runs?project=sweep&{query}");
                listed.EnsureSuccessStatusCode();
                output.WriteLine($"GET /api/v1/runs?{query}: {timer.Elapsed.TotalMilliseconds:0} ms");
            }
        }

        await using var site = await server.SignInAsync(key);
        var page = site.Page;
        await site.GoAsync("#/projects/sweep");
        var count = page.Locator("#runs-count");
        await Expect(count).ToHaveTextAsync("Runs 1–50 of 10,000");
        await Expect(page.Locator("#runs-table tbody tr")).ToHaveCountAsync(50);
        await site.ScreenshotAsync("runs-10k");

        await page.GetByLabel("State").SelectOptionAsync("finished");
        await Expect(count).ToHaveTextAsync("Runs 1–50 of 1,000");
        await page.GetByLabel("Filter field").FillAsync("config.lr");
        await page.GetByLabel("Operator").SelectOptionAsync(">=");
        await page.GetByLabel("Value").FillAsync("0.5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add filter" }).ClickAsync();
        await Expect(count).ToHaveTextAsync("Runs 1–50 of 500");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Remove filter config.lr>=0.5" })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "config.lr", Exact = true }).ClickAsync();
        await Expect(page.Locator("#runs-table tbody tr").First).ToContainTextAsync("r05001");
        await page.GetByRole(AriaRole.Button, new() { Name = "config.lr", Exact = true }).ClickAsync();
        await Expect(page.Locator("#runs-table tbody tr").First).ToContainTextAsync("r09991");
        await Expect(page.GetByRole(AriaRole.Columnheader, new() { Name = "config.lr", Exact = true })).ToHaveAttributeAsync("aria-sort", "descending");
        await page.GetByRole(AriaRole.Button, new() { Name = "Next" }).ClickAsync();
        await Expect(count).ToHaveTextAsync("Runs 51–100 of 500");
        await Expect(page.Locator("#runs-table tbody tr").First).ToContainTextAsync("r09491");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("sort=-config.lr.*page=1.*filter=config.lr"));
        await site.ScreenshotAsync("runs-filtered");

        // A value of the wrong type simply matches nothing; a field that cannot be filtered is named in the page.
        await page.GetByLabel("Filter field").FillAsync("colour");
        await page.GetByLabel("Value").FillAsync("red");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add filter" }).ClickAsync();
        await Expect(page.Locator("#filter-error")).ToContainTextAsync("\"colour\" cannot be filtered on");

        await page.GetByRole(AriaRole.Button, new() { Name = "Remove filter config.lr>=0.5" }).ClickAsync();
        await Expect(count).ToHaveTextAsync("Runs 1–50 of 1,000");
        await page.ReloadAsync();
        await Expect(count).ToHaveTextAsync("Runs 1–50 of 1,000");
        await Expect(page.GetByLabel("State")).ToHaveValueAsync("finished");

        await site.Page.SetViewportSizeAsync(420, 800);
        await site.ScreenshotAsync("runs-narrow");
        Assert.Empty(site.Errors);
    }

    [Fact]
    public async Task SelectedRuns_AreComparedWithEveryMetricOverlaid()
    {
        var key = await server.NewUserKeyAsync();
        using var client = server.Client(key);
        foreach (var (name, scale) in new[] { ("slow", 1.0), ("fast", 3.0) })
        {
            var run = await client.InitRunAsync(new InitRunRequest("duel", Name: name, Config: JsonDocument.Parse($$"""{"scale":{{scale}}}""").RootElement.Clone()));
            await client.AppendHistoryAsync(run.Id, [.. Enumerable.Range(0, 30).Select(s => new HistoryRow(s, JsonDocument.Parse($$"""{"loss":{{(1.0 / (1 + scale * s)).ToString(CultureInfo.InvariantCulture)}}}""").RootElement.Clone(), 1_790_000_000 + s))]);
            await client.FinishRunAsync(run.Id, 0);
        }

        await using var site = await server.SignInAsync(key);
        var page = site.Page;
        await site.GoAsync("#/projects/duel");
        await page.GetByLabel("Select run slow").CheckAsync();
        await page.GetByLabel("Select run fast").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Compare selected (2)" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Compare 2 runs" })).ToBeVisibleAsync();
        var chart = page.Locator("figure.chart[data-metric='loss']");
        await Expect(chart.Locator("canvas")).ToBeVisibleAsync();
        await Expect(chart.Locator(".u-legend")).ToContainTextAsync("slow");
        await Expect(chart.Locator(".u-legend")).ToContainTextAsync("fast");
        await Expect(page.Locator("main .table-wrap table")).ToContainTextAsync("config.scale");

        // Hovering shows each run's value at that step in the legend.
        var box = (await chart.Locator(".u-over").BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + 3, box.Y + box.Height / 2);
        await Expect(chart.Locator(".u-legend .u-value").Nth(1)).ToHaveTextAsync("1");
        await Expect(chart.Locator(".u-legend .u-value").Nth(2)).ToHaveTextAsync("1");
        await site.ScreenshotAsync("compare");
        await page.GetByLabel("time").CheckAsync();
        await Expect(page.Locator("figure.chart[data-metric='loss'] canvas")).ToBeVisibleAsync();
        await Expect(page.Locator("figure.chart[data-metric='loss']")).ToHaveAttributeAsync("aria-label", "loss by time");
        Assert.Empty(site.Errors);
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
