using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Liftoff.Web.Tests;

/// <summary>The path most people take: sign in, find a job, launch it from the form, watch its run, stop it.</summary>
[Collection(WebCollection.Name)]
public sealed partial class LaunchTests(BrowserFixture server)
{
    private const string Project = "vision";

    private const string Script = """
        import time
        import liftoff

        liftoff.init()
        print("<b>not bold</b> & <script>window.__xss = 1</script>", flush=True)
        print(f"lr={liftoff.config['lr']} tag={liftoff.config['tag']}", flush=True)
        step = 0
        while True:
            liftoff.log({"loss": 1.0 / (step + 1), "acc": min(1.0, step / 50)})
            print(f"step {step}", flush=True)
            step += 1
            time.sleep(0.2)
        """;

    private const string InputTypes = """
        {"type": "object",
         "properties": {
           "lr": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.1, "description": "learning rate"},
           "epochs": {"type": "integer", "minimum": 1, "maximum": 100, "default": 3},
           "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
           "tag": {"type": "string", "maxLength": 20}},
         "required": ["lr", "tag"]}
        """;

    [Fact]
    public async Task LaunchFromTheForm_RunAppears_ChartDraws_LogFollows_StopEndsIt()
    {
        var key = await server.NewUserKeyAsync();
        await using var tools = new Tools(server, key);
        await tools.CreateJobAsync(Project, "train", Script, InputTypes);
        var queueConfig = tools.File("queue.json", """{"env": {"LIFTOFF_HEARTBEAT_SECONDS": "1", "SIZE": "{{size}}"}}""");
        await tools.CliAsync("queue", "create", "gpu", "--resource", "local-process", "--config", queueConfig, "--template-var", "size=string:small|large");
        tools.StartAgent("gpu");
        await using var site = await server.SignInAsync(key);
        var page = site.Page;

        await page.GetByRole(AriaRole.Link, new() { Name = Project }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Jobs" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "train", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "train:v0" })).ToBeVisibleAsync();
        await Expect(page.Locator("main")).ToContainTextAsync("> 0; ≤ 1");
        await site.ScreenshotAsync("job");
        await page.GetByRole(AriaRole.Link, new() { Name = "Launch" }).ClickAsync();

        // Values outside the schema are refused in the page, naming the field.
        await Expect(page.GetByLabel("lr")).ToHaveValueAsync("0.1");
        await Expect(page.GetByLabel("optimizer")).ToHaveValueAsync("\"adam\"");
        await Expect(page.GetByText("Resource config (local-process)")).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Resource config (local-process)")).ToHaveValueAsync(new Regex("LIFTOFF_HEARTBEAT_SECONDS"));
        await page.GetByLabel("lr").FillAsync("5");
        await page.GetByLabel("epochs").FillAsync("2.5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Launch", Exact = true }).ClickAsync();
        var errors = page.Locator("#form-errors");
        await Expect(errors).ToContainTextAsync("config.lr: must be at most 1");
        await Expect(errors).ToContainTextAsync("config.epochs: expected integer, got the number 2.5");
        await Expect(errors).ToContainTextAsync("config.tag: is required");
        await Expect(errors).ToContainTextAsync("template_values.size: the queue requires size");
        await Expect(page.GetByLabel("lr")).ToHaveAttributeAsync("aria-invalid", "true");
        Assert.Empty((await tools.Client.ListItemsAsync("gpu")).Items);

        // The same values sent straight to the API, with the page's own session and token, are refused again there.
        var refused = await page.EvaluateAsync<string>("""
            async () => {
              const session = await (await fetch('/web/session')).json();
              const response = await fetch('/api/v1/queues/gpu/items', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json', 'X-Liftoff-Csrf': session.csrf_token },
                body: JSON.stringify({ job: 'train', project: 'vision', config: { lr: 5, epochs: 2.5, tag: 'x' }, template_values: { size: 'large' } }),
              });
              return response.status + ' ' + Object.keys((await response.json()).errors).sort().join(',');
            }
            """);
        Assert.Equal("400 config.epochs,config.lr", refused);
        Assert.Empty((await tools.Client.ListItemsAsync("gpu")).Items);

        await page.GetByLabel("lr").FillAsync("0.05");
        await page.GetByLabel("epochs").FillAsync("7");
        await page.GetByLabel("optimizer").SelectOptionAsync("\"sgd\"");
        await page.GetByLabel("tag").FillAsync("<i>web</i>");
        await page.GetByLabel("size").SelectOptionAsync("large");
        await page.GetByRole(AriaRole.Button, new() { Name = "Preview" }).ClickAsync();
        var preview = page.Locator("#preview");
        await Expect(preview).ToContainTextAsync("\"lr\": 0.05");
        await Expect(preview).ToContainTextAsync("\"SIZE\": \"large\"");
        await Expect(preview).ToContainTextAsync("\"tag\": \"<i>web</i>\"");
        await Expect(errors).ToBeHiddenAsync();
        await site.ScreenshotAsync("launch");

        await page.GetByRole(AriaRole.Button, new() { Name = "Launch", Exact = true }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex(@"#/queues/gpu\?item=item_"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Queue gpu" })).ToBeVisibleAsync();
        var item = Assert.Single((await tools.Client.ListItemsAsync("gpu")).Items);
        Assert.Equal(0.05, item.Config.GetProperty("lr").GetDouble());
        Assert.Equal("sgd", item.Config.GetProperty("optimizer").GetString());

        // The agent claims the item: its run appears on the queue page without a reload.
        var runLink = page.Locator($"tr[data-item='{item.Id}'] a[href^='#/runs/']");
        await Expect(runLink).ToBeVisibleAsync(new() { Timeout = 90_000 });
        await Expect(page.Locator($"tr[data-item='{item.Id}']")).ToContainTextAsync(new Regex("running|starting|leased"));
        await Expect(page.GetByText("web-test-agent")).ToBeVisibleAsync();
        await site.ScreenshotAsync("queue");
        await runLink.ClickAsync();

        await Expect(page.Locator("h1 .state")).ToHaveTextAsync("running", new() { Timeout = 90_000 });
        await Expect(page.Locator("figure.chart[data-metric='loss'] canvas").First).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(page.Locator("figure.chart[data-metric='acc']")).ToBeVisibleAsync();
        var console = page.Locator("#console");
        await Expect(console).ToContainTextAsync("lr=0.05 tag=<i>web</i>", new() { Timeout = 30_000 });
        await Expect(console).ToContainTextAsync("step 3", new() { Timeout = 30_000 });
        await Expect(console).ToContainTextAsync("step 12", new() { Timeout = 30_000 });
        await Expect(console).ToContainTextAsync("<b>not bold</b> & <script>window.__xss = 1</script>");
        Assert.Equal(0, await page.Locator("#console b, #console script, #console i").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        await Expect(page.Locator("section[aria-labelledby='config-h']")).ToContainTextAsync("0.05");
        await Expect(page.Locator("section[aria-labelledby='overview-h']")).ToContainTextAsync("train:v0");
        await site.ScreenshotAsync("run");
        await site.ScreenshotAsync("run-full", fullPage: true);

        await page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
        await Expect(page.Locator("h1 .state")).ToHaveTextAsync("killed", new() { Timeout = 60_000 });
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToBeHiddenAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "Runs", Exact = true }).ClickAsync();
        var row = page.Locator("#runs-table tbody tr").First;
        await Expect(row).ToContainTextAsync("killed");
        await Expect(row).ToContainTextAsync("train:v0");
        await Expect(row).ToContainTextAsync("gpu");
        await site.ScreenshotAsync("runs");
        await page.GetByRole(AriaRole.Link, new() { Name = "Queues" }).ClickAsync();
        await Expect(page.Locator("main .table-wrap")).ToContainTextAsync("gpu");
        await site.ScreenshotAsync("queues");
        Assert.True(site.Errors.Count == 0, "script errors: " + string.Join("\n", site.Errors) + "\nagent:\n" + tools.AgentOutput());
    }
}
