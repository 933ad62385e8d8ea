using Liftoff.Testing;
using Microsoft.Playwright;
using Xunit;

namespace Liftoff.Web.Tests;

/// <summary>
/// A real server and Debian's headless Chromium, driven by Playwright for .NET (its bundled node driver; no browser is
/// downloaded). Without /usr/bin/chromium every test fails, saying how to install it: a skipped browser test would
/// pass for a web app nobody looked at.
/// </summary>
public sealed class BrowserFixture : ServerFixture, IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ScreenshotDirectory { get; } = Path.Combine(Repo.Root, "TestResults", "screenshots");

    public new async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"the web tests need Chromium at {Chromium}: run scripts/setup/chromium.sh (apt-get install chromium) and test again");
        }

        await base.InitializeAsync();
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    /// <summary>A fresh browser context (its own cookies) at 1280×800, signed in with <paramref name="key"/>.</summary>
    public async Task<Site> SignInAsync(string key, int width = 1280, int height = 800)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = BaseUrl.ToString(), ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout(20_000);
        var site = new Site(context, await context.NewPageAsync());
        await site.Page.GotoAsync("/");
        await site.Page.GetByLabel("API key").FillAsync(key);
        await site.Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(site.Page.GetByText("Signed in as")).ToBeVisibleAsync();
        return site;
    }

    public new async Task DisposeAsync()
    {
        if (_playwright is not null)
        {
            await Browser.DisposeAsync();
            _playwright.Dispose();
        }

        await base.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class WebCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "web";
}

/// <summary>One signed-in browser context and its page; collects the page's script errors, which a test expects none of.</summary>
public sealed class Site : IAsyncDisposable
{
    private readonly List<string> _errors = [];

    public Site(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
        page.PageError += (_, error) => _errors.Add(error);
        page.Console += (_, message) =>
        {
            // The browser reports every refused request (a 400 the page shows as a field error, say) as a console error;
            // those are the app working. Anything else (an exception, a CSP violation) is not.
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                _errors.Add(message.Text);
            }
        };
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    /// <summary>Script errors and console errors (CSP violations among them) seen so far, refused requests aside.</summary>
    public IReadOnlyList<string> Errors => _errors;

    public Task GoAsync(string hash) => Page.GotoAsync("/" + hash);

    public async Task ScreenshotAsync(string name, bool fullPage = false) =>
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name + ".png"), FullPage = fullPage });

    public async ValueTask DisposeAsync() => await Context.DisposeAsync();
}
