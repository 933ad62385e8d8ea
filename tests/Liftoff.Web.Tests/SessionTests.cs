using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Liftoff.Web.Tests;

/// <summary>Signing in and out in the browser; the session cookie is out of scripts' reach and needs the CSRF token.</summary>
[Collection(WebCollection.Name)]
public sealed class SessionTests(BrowserFixture server)
{
    [Fact]
    public async Task SessionCookie_IsHttpOnlyAndStrict_AndAStateChangeWithoutTheCsrfTokenIsRefused()
    {
        var key = await server.NewUserKeyAsync();
        using var client = server.Client(key);
        var run = await client.InitRunAsync(new Liftoff.Contracts.InitRunRequest("csrf", Name: "victim"));
        await using var site = await server.SignInAsync(key);
        var page = site.Page;

        var cookie = Assert.Single(await site.Context.CookiesAsync(), c => c.Name == "liftoff_session");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(key, cookie.Value, StringComparison.Ordinal);
        Assert.Equal("", await page.EvaluateAsync<string>("() => document.cookie"));
        Assert.False(await page.EvaluateAsync<bool>($"() => document.documentElement.outerHTML.includes('{key}')"));

        // A forged request: the browser attaches the cookie, but the page that forged it cannot know the token.
        var forged = await page.EvaluateAsync<int>("async id => (await fetch(`/api/v1/runs/${id}/stop`, { method: 'POST' })).status", run.Id);
        var read = await page.EvaluateAsync<int>("async id => (await fetch(`/api/v1/runs/${id}`)).status", run.Id);

        Assert.Equal(403, forged);
        Assert.Equal(200, read);
        Assert.False((await client.GetRunAsync(run.Id)).StopRequested);

        // The app itself sends the token.
        await site.GoAsync($"#/runs/{run.Id}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Stop requested" })).ToBeDisabledAsync();
        Assert.True((await client.GetRunAsync(run.Id)).StopRequested);
    }

    [Fact]
    public async Task SignOut_ReturnsToSignIn_AndTheOldCookieNoLongerWorks()
    {
        var key = await server.NewUserKeyAsync();
        await using var site = await server.SignInAsync(key);
        var page = site.Page;
        var cookie = Assert.Single(await site.Context.CookiesAsync(), c => c.Name == "liftoff_session");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
        Assert.DoesNotContain(await site.Context.CookiesAsync(), c => c.Name == "liftoff_session");
        await site.Context.AddCookiesAsync([new Cookie { Name = cookie.Name, Value = cookie.Value, Domain = cookie.Domain, Path = "/" }]);
        await site.GoAsync("#/queues");
        await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task SignIn_WithAWrongKey_SaysSoAndStaysOnTheForm()
    {
        await using var context = await server.Browser.NewContextAsync(new() { BaseURL = server.BaseUrl.ToString() });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/#/queues");
        await page.GetByLabel("API key").FillAsync("local-" + new string('x', 40));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#signin-error")).ToContainTextAsync("not valid");
        await Expect(page.GetByLabel("API key")).ToHaveAttributeAsync("aria-invalid", "true");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "signin.png") });

        await page.GetByLabel("API key").FillAsync(server.AdminKey);
        await page.GetByLabel("API key").PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Queues" })).ToBeVisibleAsync();
    }
}
