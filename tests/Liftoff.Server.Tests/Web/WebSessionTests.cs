using System.Net;
using System.Text.Json;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Web;

/// <summary>The web app's session cookie and its CSRF protection, over plain HTTP (the browser tests drive the pages).</summary>
public sealed class WebSessionTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task SignIn_SetsAnHttpOnlyStrictCookieThatTheApiAccepts_AndNeverReturnsTheKey()
    {
        var key = await server.NewUserKeyAsync("websigner");
        using var http = server.Http();

        using var response = await http.PostJsonAsync("/web/session", $$"""{"key":"{{key}}"}""");
        var body = await response.JsonAsync();

        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("liftoff_session=ses-", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(key, cookie, StringComparison.Ordinal);
        Assert.DoesNotContain(key, body.GetRawText(), StringComparison.Ordinal);
        Assert.Equal("websigner", body.GetProperty("entity").GetString());
        using var viewer = await SendAsync(HttpMethod.Get, "/api/v1/viewer", Session(cookie));
        Assert.Equal("websigner", (await viewer.JsonAsync()).GetProperty("entity").GetString());
    }

    [Fact]
    public async Task StateChangingRequest_WithTheCookieButWithoutTheCsrfToken_IsRefusedAndChangesNothing()
    {
        var (cookie, token) = await SignInAsync(await server.NewUserKeyAsync());

        using var refused = await SendAsync(HttpMethod.Post, "/api/v1/runs", Session(cookie), """{"project":"csrf"}""");
        using var wrongToken = await SendAsync(HttpMethod.Post, "/api/v1/runs", Session(cookie, (token[0] == '0' ? "1" : "0") + token[1..]), """{"project":"csrf"}""");
        using var listed = await SendAsync(HttpMethod.Get, "/api/v1/runs?project=csrf", Session(cookie));
        using var accepted = await SendAsync(HttpMethod.Post, "/api/v1/runs", Session(cookie, token), """{"project":"csrf"}""");

        Assert.Contains("X-Liftoff-Csrf", (await refused.ProblemAsync(HttpStatusCode.Forbidden)).Detail(), StringComparison.Ordinal);
        await wrongToken.ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(0, (await listed.JsonAsync()).GetProperty("runs").GetArrayLength());
        await accepted.JsonAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task GetSession_GivesTheCsrfToken_OnlyToTheCookie()
    {
        var key = await server.NewUserKeyAsync();
        var (cookie, token) = await SignInAsync(key);

        using var session = await SendAsync(HttpMethod.Get, "/web/session", Session(cookie));
        using var bearer = await SendAsync(HttpMethod.Get, "/web/session", [("Authorization", "Bearer " + key)]);

        Assert.Equal(token, (await session.JsonAsync()).GetProperty("csrf_token").GetString());
        Assert.Equal(HttpStatusCode.NoContent, bearer.StatusCode);
    }

    [Fact]
    public async Task SignOut_EndsTheSession()
    {
        var (cookie, token) = await SignInAsync(await server.NewUserKeyAsync());

        using var signedOut = await SendAsync(HttpMethod.Delete, "/web/session", Session(cookie, token));
        using var after = await SendAsync(HttpMethod.Get, "/api/v1/viewer", Session(cookie));

        Assert.Equal(HttpStatusCode.NoContent, signedOut.StatusCode);
        Assert.Contains("liftoff_session=;", Assert.Single(signedOut.Headers.GetValues("Set-Cookie")), StringComparison.Ordinal);
        Assert.Contains("sign in again", (await after.ProblemAsync(HttpStatusCode.Unauthorized)).Detail(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RevokingTheKey_EndsTheSessionsItOpened()
    {
        var key = await server.NewUserKeyAsync();
        using var client = server.Client(key);
        var second = await client.CreateKeyAsync("browser");
        var (cookie, _) = await SignInAsync(second.Key);

        await client.RevokeKeyAsync(second.Id);

        using var after = await SendAsync(HttpMethod.Get, "/api/v1/viewer", Session(cookie));
        await after.ProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("""{"key":"local-0000000000000000000000000000000000000000"}""", HttpStatusCode.Unauthorized)]
    [InlineData("""{"key":""}""", HttpStatusCode.BadRequest)]
    [InlineData("""{}""", HttpStatusCode.BadRequest)]
    public async Task SignIn_WithoutAValidKey_IsRefusedAndSetsNoCookie(string body, HttpStatusCode status)
    {
        using var http = server.Http();
        using var response = await http.PostJsonAsync("/web/session", body);
        await response.ProblemAsync(status);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task SignIn_WithAFormPost_IsRefused()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http();
        using var response = await http.PostAsync("/web/session", new FormUrlEncodedContent([new("key", key)]));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task App_IsServedWithAStrictContentSecurityPolicy_WithItsChartingLibrary()
    {
        using var http = server.Http();

        using var index = await http.GetAsync("/");
        using var library = await http.GetAsync("/app/vendor/uPlot.esm.js");
        using var missing = await http.GetAsync("/app/nothing.js");

        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", index.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("<script type=\"module\" src=\"/app/main.js\">", await index.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, library.StatusCode);
        Assert.Equal("text/javascript", library.Content.Headers.ContentType?.MediaType);
        Assert.Contains("export { uPlot as default }", await library.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseUrl };
        using var runLink = await noRedirects.GetAsync("/runs/abc123");
        Assert.Equal("/#/runs/abc123", runLink.Headers.Location?.OriginalString);
        using var teamRunLink = await noRedirects.GetAsync("/runs/abc123?entity=vision");
        Assert.Equal("/#/runs/abc123?entity=vision", teamRunLink.Headers.Location?.OriginalString);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/");
        again.Headers.IfNoneMatch.Add(index.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await http.SendAsync(again)).StatusCode);
    }

    private async Task<(string Cookie, string Token)> SignInAsync(string key)
    {
        using var http = server.Http();
        using var response = await http.PostJsonAsync("/web/session", $$"""{"key":"{{key}}"}""");
        var body = await response.JsonAsync();
        return (Assert.Single(response.Headers.GetValues("Set-Cookie")), body.GetProperty("csrf_token").GetString()!);
    }

    /// <summary>The headers a browser sends with the session: the cookie, and the CSRF token when the app adds it.</summary>
    private static (string, string)[] Session(string setCookie, string? token = null)
    {
        var cookie = setCookie[..setCookie.IndexOf(';', StringComparison.Ordinal)];
        return token is null ? [("Cookie", cookie)] : [("Cookie", cookie), ("X-Liftoff-Csrf", token)];
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, (string Name, string Value)[] headers, string? json = null)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = server.BaseUrl };
        using var request = new HttpRequestMessage(method, path);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        return await http.SendAsync(request);
    }
}
