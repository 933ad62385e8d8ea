using System.Net;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

public sealed class AuthTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Request_WithoutKey_Is401ProblemSayingHowToAuthenticate()
    {
        using var http = server.Http();
        var problem = await (await http.GetAsync("/api/v1/runs")).ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Contains("Authorization: Bearer", problem.Detail(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_WithWrongKey_Is401()
    {
        using var http = server.Http("local-" + new string('x', 40));
        var problem = await (await http.GetAsync("/api/v1/viewer")).ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Contains("not valid", problem.Detail(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_WithNonBearerScheme_Is401()
    {
        using var http = server.Http();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Token", server.AdminKey);
        await (await http.GetAsync("/api/v1/viewer")).ProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task RevokedKey_Is401FromThenOn()
    {
        var userKey = await server.NewUserKeyAsync();
        using var client = server.Client(userKey);
        var second = await client.CreateKeyAsync("ci");
        using var secondHttp = server.Http(second.Key);
        Assert.Equal(HttpStatusCode.OK, (await secondHttp.GetAsync("/api/v1/viewer")).StatusCode);

        await client.RevokeKeyAsync(second.Id);

        await (await secondHttp.GetAsync("/api/v1/viewer")).ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await server.Http(userKey).GetAsync("/api/v1/viewer")).StatusCode);
    }

    [Fact]
    public async Task Keys_AreShownOnceAndListedWithoutSecrets()
    {
        var userKey = await server.NewUserKeyAsync();
        using var http = server.Http(userKey);
        var created = await (await http.PostJsonAsync("/api/v1/keys", """{"name":"laptop"}""")).JsonAsync(HttpStatusCode.Created);
        var secret = created.GetProperty("key").GetString()!;
        Assert.Matches("^local-[a-z0-9]{40}$", secret);

        var listing = await (await http.GetAsync("/api/v1/keys")).Content.ReadAsStringAsync();

        Assert.DoesNotContain(secret, listing, StringComparison.Ordinal);
        Assert.DoesNotContain(userKey, listing, StringComparison.Ordinal);
        Assert.Contains("laptop", listing, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateUser_WithNonAdminKey_Is403()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        await (await http.PostJsonAsync("/api/v1/users", """{"name":"mallory"}""")).ProblemAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task CreateUser_WithTakenOrBadName_IsRefusedNamingTheField()
    {
        using var http = server.Http(server.AdminKey);
        var name = "dup" + Guid.NewGuid().ToString("N")[..8];
        await (await http.PostJsonAsync("/api/v1/users", $$"""{"name":"{{name}}"}""")).JsonAsync(HttpStatusCode.Created);

        await (await http.PostJsonAsync("/api/v1/users", $$"""{"name":"{{name}}"}""")).ProblemAsync(HttpStatusCode.Conflict);
        var bad = await (await http.PostJsonAsync("/api/v1/users", """{"name":"../etc"}""")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(bad.GetProperty("errors").TryGetProperty("name", out _));
    }

    [Fact]
    public async Task OtherEntitysRun_Is404OnEveryRoute()
    {
        using var owner = server.Http(await server.NewUserKeyAsync());
        var run = await (await owner.PostJsonAsync("/api/v1/runs", """{"project":"secret"}""")).JsonAsync(HttpStatusCode.Created);
        var id = run.GetProperty("id").GetString();
        using var stranger = server.Http(await server.NewUserKeyAsync());

        await (await stranger.GetAsync($"/api/v1/runs/{id}")).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.GetAsync($"/api/v1/runs/{id}/history")).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.GetAsync($"/api/v1/runs/{id}/logs")).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.PostJsonAsync($"/api/v1/runs/{id}/history", """{"rows":[{"step":0,"values":{"a":1}}]}""")).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":0}""")).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.PostJsonAsync($"/api/v1/runs/{id}/stop", "{}")).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.PostJsonAsync("/api/v1/runs", """{"project":"x","entity":"admin"}""")).ProblemAsync(HttpStatusCode.NotFound);
        var runs = await (await stranger.GetAsync("/api/v1/runs")).JsonAsync();
        Assert.Equal(0, runs.GetProperty("runs").GetArrayLength());
        var projects = await (await stranger.GetAsync("/api/v1/projects")).JsonAsync();
        Assert.Equal(0, projects.GetProperty("projects").GetArrayLength());
        Assert.Equal("running", (await (await owner.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("state").GetString());
    }
}
