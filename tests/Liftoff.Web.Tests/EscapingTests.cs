using System.Text.Json;
using Liftoff.Contracts;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Liftoff.Web.Tests;

/// <summary>Every value from a user is shown as text: names, config, summary and console lines never become markup.</summary>
[Collection(WebCollection.Name)]
public sealed class EscapingTests(BrowserFixture server)
{
    private const string ScriptName = "<script>window.__xss = 1</script>";
    private const string ImageName = "<img src=x onerror=\"window.__xss = 2\">";

    [Fact]
    public async Task RunNamedLikeMarkup_AndHtmlLogLines_ShowAsText()
    {
        var key = await server.NewUserKeyAsync();
        using var client = server.Client(key);
        var scripted = await client.InitRunAsync(new InitRunRequest("markup", Name: ScriptName, Config: Json("""{"note": "<b>bold</b>", "<i>key</i>": 1}""")));
        await client.InitRunAsync(new InitRunRequest("markup", Name: ImageName));
        await client.AppendLogsAsync(scripted.Id, 0, [new LogLine("stdout", "<h1>big</h1><img src=x onerror=\"window.__xss = 3\">"), new LogLine("stderr", "a & b < c")]);
        await client.AppendHistoryAsync(scripted.Id, [new HistoryRow(0, Json("""{"<svg onload=alert(1)>": 1.5}"""))]);
        await using var site = await server.SignInAsync(key);
        var page = site.Page;

        await site.GoAsync("#/projects/markup");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = ScriptName })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = ImageName })).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("main img, main script, main b").CountAsync());

        await page.GetByRole(AriaRole.Link, new() { Name = ScriptName }).ClickAsync();
        await Expect(page.Locator("h1")).ToContainTextAsync(ScriptName);
        await Expect(page.Locator("#console")).ToContainTextAsync("<h1>big</h1><img src=x onerror=\"window.__xss = 3\">");
        await Expect(page.Locator("#console")).ToContainTextAsync("a & b < c");
        await Expect(page.Locator("section[aria-labelledby='config-h']")).ToContainTextAsync("<b>bold</b>");
        await Expect(page.Locator("section[aria-labelledby='config-h']")).ToContainTextAsync("<i>key</i>");
        await Expect(page.Locator("figure.chart h3")).ToHaveTextAsync("<svg onload=alert(1)>");
        Assert.Equal(0, await page.Locator("main img, main h1 + h1, #console h1, main b, main i, main svg[onload]").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        Assert.Empty(site.Errors);
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
