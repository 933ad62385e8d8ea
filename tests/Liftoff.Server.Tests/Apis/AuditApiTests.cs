using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>
/// The audit log through the API: what each action records (who, from where, what, on which object, the outcome), who
/// may read it, its filters and pages, and that no secret value reaches it.
/// </summary>
public sealed class AuditApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task TeamActions_AreRecordedWithActorAddressObjectAndOutcome_ForTheTeamsAdmins()
    {
        var team = await TeamAsync();
        var item = await EnqueueAsync(team, team.Member);
        await Send(team.Viewer, "POST", $"/api/v1/queues/q/items?entity={team.Name}", """{"job":"img","project":"p"}""", HttpStatusCode.Forbidden);
        await Send(team.Member, "POST", $"/api/v1/items/{item}/cancel?entity={team.Name}", null, HttpStatusCode.OK);
        await Send(team.Admin, "PUT", $"/api/v1/teams/{team.Name}/members/{team.Name}-viewer", """{"role":"member"}""", HttpStatusCode.OK);

        var entries = await EntriesAsync(team.Admin, $"entity={team.Name}");

        var enqueue = Single(entries, "item.enqueue", item);
        Assert.Equal((team.Name + "-member", "user", "127.0.0.1", team.Name, "ok", 201),
            (Text(enqueue, "actor"), Text(enqueue, "actor_kind"), Text(enqueue, "address"), Text(enqueue, "entity"), Text(enqueue, "outcome"), enqueue.GetProperty("status").GetInt32()));
        Assert.Equal("q", enqueue.GetProperty("detail").GetProperty("queue").GetString());
        var denied = Assert.Single(entries, e => Text(e, "action") == "item.enqueue" && Text(e, "actor") == team.Name + "-viewer");
        Assert.Equal(("denied", 403, "q"), (Text(denied, "outcome"), denied.GetProperty("status").GetInt32(), Text(denied, "object")));
        Assert.Equal("ok", Text(Single(entries, "item.cancel", item), "outcome"));
        var roles = entries.Where(e => Text(e, "action") == "member.set" && Text(e, "object") == team.Name + "-viewer")
            .Select(e => (e.GetProperty("detail").GetProperty("previous").GetString(), e.GetProperty("detail").GetProperty("role").GetString()));
        Assert.Equal([("viewer", "member"), (null, "viewer")], roles);
        Assert.Equal("ok", Text(Single(entries, "queue.create", "q"), "outcome"));
    }

    [Fact]
    public async Task ReadingTheLog_NeedsTheAdminRole_AndOutsidersSeeNoTeam()
    {
        var team = await TeamAsync();

        await Send(team.Member, "GET", $"/api/v1/audit?entity={team.Name}", null, HttpStatusCode.Forbidden);
        await Send(team.Viewer, "GET", $"/api/v1/audit?entity={team.Name}", null, HttpStatusCode.Forbidden);
        await Send(team.Outsider, "GET", $"/api/v1/audit?entity={team.Name}", null, HttpStatusCode.NotFound);
        var own = await EntriesAsync(team.Outsider, "");
        Assert.DoesNotContain(own, e => Text(e, "entity") == team.Name);
        var asServerAdmin = await EntriesAsync(server.AdminKey, $"entity={team.Name}");
        Assert.All(asServerAdmin, e => Assert.Equal(team.Name, Text(e, "entity")));
        Assert.Contains(asServerAdmin, e => Text(e, "action") == "queue.create");
    }

    [Fact]
    public async Task QueueCreateAndDelete_RecordTheConfigBeforeAndAfter_WithEnvironmentValuesElided()
    {
        var team = await TeamAsync();
        await Send(team.Admin, "POST", $"/api/v1/queues/?entity={team.Name}",
            """{"name":"envq","resource":"docker","config":{"env":{"HF_TOKEN":"hf_plaintext_value","REF":"${secret:HF}"},"cpus":2}}""", HttpStatusCode.Created);
        await Send(team.Admin, "DELETE", $"/api/v1/queues/envq?entity={team.Name}", null, HttpStatusCode.NoContent);

        using var raw = await SendAsync(team.Admin, "GET", $"/api/v1/audit?entity={team.Name}&object=envq", null);
        var text = await raw.Content.ReadAsStringAsync();
        var entries = JsonDocument.Parse(text).RootElement.GetProperty("entries").EnumerateArray().ToList();

        Assert.DoesNotContain("hf_plaintext_value", text, StringComparison.Ordinal);
        var created = Single(entries, "queue.create", "envq").GetProperty("detail");
        Assert.Equal(JsonValueKind.Null, created.GetProperty("before").ValueKind);
        var env = created.GetProperty("after").GetProperty("config").GetProperty("env");
        Assert.Equal(("<elided>", "${secret:HF}"), (env.GetProperty("HF_TOKEN").GetString(), env.GetProperty("REF").GetString()));
        Assert.Equal(2, created.GetProperty("after").GetProperty("config").GetProperty("cpus").GetInt32());
        var deleted = Single(entries, "queue.delete", "envq").GetProperty("detail");
        Assert.Equal("<elided>", deleted.GetProperty("before").GetProperty("config").GetProperty("env").GetProperty("HF_TOKEN").GetString());
        Assert.Equal(JsonValueKind.Null, deleted.GetProperty("after").ValueKind);
    }

    [Fact]
    public async Task SecretsAndKeys_AreRecordedByName_NeverByValue()
    {
        var key = await server.NewUserKeyAsync();
        await Send(key, "PUT", "/api/v1/secrets/DB_PASSWORD", """{"value":"s3cr3t-value-never-logged"}""", HttpStatusCode.OK);
        await Send(key, "DELETE", "/api/v1/secrets/DB_PASSWORD", null, HttpStatusCode.NoContent);
        await Send(key, "DELETE", "/api/v1/secrets/DB_PASSWORD", null, HttpStatusCode.NotFound);
        using var created = await SendAsync(key, "POST", "/api/v1/keys", """{"name":"ci"}""");
        var newKey = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        await Send(key, "DELETE", $"/api/v1/keys/{newKey.GetProperty("id").GetString()}", null, HttpStatusCode.NoContent);

        using var raw = await SendAsync(key, "GET", "/api/v1/audit", null);
        var text = await raw.Content.ReadAsStringAsync();
        var entries = JsonDocument.Parse(text).RootElement.GetProperty("entries").EnumerateArray().ToList();

        Assert.DoesNotContain("s3cr3t-value-never-logged", text, StringComparison.Ordinal);
        Assert.DoesNotContain(newKey.GetProperty("key").GetString()!, text, StringComparison.Ordinal);
        Assert.Equal(["denied", "ok"], entries.Where(e => Text(e, "action") == "secret.delete").Select(e => Text(e, "outcome")));
        Assert.Equal("ok", Text(Single(entries, "secret.set", "DB_PASSWORD"), "outcome"));
        Assert.Equal("ci", Single(entries, "key.create", newKey.GetProperty("id").GetString()!).GetProperty("detail").GetProperty("name").GetString());
        Assert.Equal("ok", Text(Single(entries, "key.revoke", newKey.GetProperty("id").GetString()!), "outcome"));
    }

    [Fact]
    public async Task AChangeTheStoreRefuses_RecordsItsFailure()
    {
        var team = await TeamAsync();

        await Send(team.Admin, "PUT", $"/api/v1/teams/{team.Name}/members/{team.Name}-admin", """{"role":"member"}""", HttpStatusCode.Conflict);

        var entry = Single(await EntriesAsync(team.Admin, $"entity={team.Name}&action=member.set&object={team.Name}-admin"), "member.set", team.Name + "-admin");
        Assert.Equal(("refused", 409), (Text(entry, "outcome"), entry.GetProperty("status").GetInt32()));
    }

    [Fact]
    public async Task WebSignIn_SignOut_AndFailedSignIns_AreRecorded_AndOnlyTheServerAdminSeesServerWideEntries()
    {
        var name = "w" + Guid.NewGuid().ToString("N")[..8];
        var key = await UserAsync(name);
        using var http = server.Http();
        using var failed = await http.PostAsync("/web/session", new StringContent($$"""{"key":"not-a-key-{{name}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        using var signIn = await http.PostAsync("/web/session", new StringContent($$"""{"key":"{{key}}"}""", Encoding.UTF8, "application/json"));
        var token = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf_token").GetString()!;
        var cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie")).Split(';')[0];
        using var signOut = new HttpRequestMessage(HttpMethod.Delete, "/web/session");
        signOut.Headers.Add("Cookie", cookie);
        signOut.Headers.Add("X-Liftoff-Csrf", token);
        Assert.Equal(HttpStatusCode.NoContent, (await http.SendAsync(signOut)).StatusCode);

        var mine = await EntriesAsync(key, "");
        Assert.Equal(["web.sign-out", "web.sign-in"], mine.Select(e => Text(e, "action")));
        Assert.All(mine, e => Assert.Equal((name, "ok", "127.0.0.1"), (Text(e, "actor"), Text(e, "outcome"), Text(e, "address"))));
        var all = await EntriesAsync(server.AdminKey, "action=web.sign-in&limit=1000");
        Assert.Contains(all, e => Text(e, "outcome") == "denied" && Text(e, "actor_kind") == "anonymous" && e.GetProperty("status").GetInt32() == 401);
        Assert.DoesNotContain($"not-a-key-{name}", JsonSerializer.Serialize(all), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListAudit_PagesNewestFirst_AndRefusesBadFilters()
    {
        var key = await server.NewUserKeyAsync();
        for (var i = 0; i < 5; i++)
        {
            await Send(key, "PUT", $"/api/v1/secrets/S{i}", """{"value":"v"}""", HttpStatusCode.OK);
        }

        var seen = new List<string?>();
        string? cursor = null;
        do
        {
            using var response = await SendAsync(key, "GET", "/api/v1/audit?action=secret.set&limit=2" + (cursor is null ? "" : "&cursor=" + cursor), null);
            var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            seen.AddRange(page.GetProperty("entries").EnumerateArray().Select(e => Text(e, "object")));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(["S4", "S3", "S2", "S1", "S0"], seen);
        Assert.Empty(await EntriesAsync(key, "since=2999-01-01T00:00:00Z"));
        Assert.Equal(5, (await EntriesAsync(key, "until=2999-01-01T00:00:00Z")).Count);
        using var bad = await SendAsync(key, "GET", "/api/v1/audit?since=yesterday&limit=0&cursor=x", null);
        var problem = await bad.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("since:", problem.Detail(), StringComparison.Ordinal);
        Assert.Contains("limit:", problem.Detail(), StringComparison.Ordinal);
        Assert.Contains("cursor:", problem.Detail(), StringComparison.Ordinal);
    }

    private sealed record Team(string Name, string Admin, string Member, string Viewer, string Outsider);

    private async Task<Team> TeamAsync()
    {
        var name = "a" + Guid.NewGuid().ToString("N")[..8];
        var admin = await UserAsync(name + "-admin");
        var member = await UserAsync(name + "-member");
        var viewer = await UserAsync(name + "-viewer");
        var outsider = await UserAsync(name + "-outsider");
        await Send(server.AdminKey, "POST", "/api/v1/teams/", $$"""{"name":"{{name}}","admin":"{{name}}-admin"}""", HttpStatusCode.Created);
        await Send(admin, "PUT", $"/api/v1/teams/{name}/members/{name}-member", """{"role":"member"}""", HttpStatusCode.OK);
        await Send(admin, "PUT", $"/api/v1/teams/{name}/members/{name}-viewer", """{"role":"viewer"}""", HttpStatusCode.OK);
        await Send(admin, "POST", $"/api/v1/queues/?entity={name}", """{"name":"q","resource":"docker"}""", HttpStatusCode.Created);
        await Send(member, "POST", $"/api/v1/jobs/?entity={name}",
            """{"project":"p","name":"img","definition":{"source_type":"image","source":{"image":"ghcr.io/org/train:1"},"entrypoint":["python"]}}""", HttpStatusCode.Created);
        return new Team(name, admin, member, viewer, outsider);
    }

    private async Task<string> EnqueueAsync(Team team, string key)
    {
        using var response = await SendAsync(key, "POST", $"/api/v1/queues/q/items?entity={team.Name}", """{"job":"img","project":"p"}""");
        return (await response.JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;
    }

    private async Task<string> UserAsync(string name)
    {
        using var response = await SendAsync(server.AdminKey, "POST", "/api/v1/users", $$"""{"name":"{{name}}"}""");
        return (await response.JsonAsync(HttpStatusCode.Created)).GetProperty("key").GetProperty("key").GetString()!;
    }

    private async Task<List<JsonElement>> EntriesAsync(string key, string query)
    {
        using var response = await SendAsync(key, "GET", "/api/v1/audit?" + query, null);
        return [.. (await response.JsonAsync()).GetProperty("entries").EnumerateArray()];
    }

    private static JsonElement Single(List<JsonElement> entries, string action, string obj) =>
        Assert.Single(entries, e => Text(e, "action") == action && Text(e, "object") == obj && Text(e, "outcome") != "denied");

    private static string? Text(JsonElement entry, string property) => entry.GetProperty(property).GetString();

    private async Task Send(string key, string method, string path, string? body, HttpStatusCode expected)
    {
        using var response = await SendAsync(key, method, path, body);
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private async Task<HttpResponseMessage> SendAsync(string key, string method, string path, string? body)
    {
        using var http = server.Http(key);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return await http.SendAsync(request);
    }
}
