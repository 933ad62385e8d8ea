using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>
/// Service accounts through the API: a team's admins create them with a role, they act in their team only with that
/// role, their requests are audited as theirs, and deleting one stops its keys at once. Agent-only keys of users and
/// accounts; queue edit.
/// </summary>
public sealed class ServiceAccountsApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task ServiceAccount_ActsInItsTeamWithItsRole_AndIsAuditedAsAServiceAccount()
    {
        var team = await TeamAsync();
        var key = await AccountKeyAsync(team, "ci", "member");

        using (var launched = await SendAsync(key, "POST", "/api/v1/queues/q/items", """{"job":"img","project":"p"}"""))
        {
            Assert.Equal(HttpStatusCode.Created, launched.StatusCode);
        }

        using (var viewer = await SendAsync(key, "GET", "/api/v1/viewer", null))
        {
            var who = await viewer.JsonAsync();
            Assert.Equal(($"ci@{team.Name}", team.Name), (who.GetProperty("entity").GetString(), who.GetProperty("default_entity").GetString()));
        }

        var entries = await EntriesAsync(team.Admin, $"entity={team.Name}");
        var enqueue = Assert.Single(entries, e => Text(e, "action") == "item.enqueue");
        Assert.Equal(($"ci@{team.Name}", "service_account", team.Name), (Text(enqueue, "actor"), Text(enqueue, "actor_kind"), Text(enqueue, "entity")));
        var created = Assert.Single(entries, e => Text(e, "action") == "service-account.create");
        Assert.Equal(("ci", "member", $"{team.Name}-admin"), (Text(created, "object"), created.GetProperty("detail").GetProperty("role").GetString(), Text(created, "actor")));
        var keyEntry = Assert.Single(entries, e => Text(e, "action") == "service-account.key.create");
        Assert.Equal("ci", keyEntry.GetProperty("detail").GetProperty("service_account").GetString());
        Assert.DoesNotContain(entries, e => e.GetRawText().Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ServiceAccount_NeverReachesAnotherEntity_NorItsOwnIdentity_NorMoreThanItsRole()
    {
        var team = await TeamAsync();
        var other = await TeamAsync();
        var viewer = await AccountKeyAsync(team, "reader", "viewer");

        await Send(viewer, "GET", $"/api/v1/queues/?entity={team.Name}", null, HttpStatusCode.OK);
        await Send(viewer, "GET", $"/api/v1/queues/?entity={other.Name}", null, HttpStatusCode.NotFound);
        await Send(viewer, "GET", $"/api/v1/queues/?entity={team.Name}-admin", null, HttpStatusCode.NotFound);
        await Send(viewer, "GET", $"/api/v1/queues/?entity=reader@{team.Name}", null, HttpStatusCode.NotFound);
        using (var enqueue = await SendAsync(viewer, "POST", "/api/v1/queues/q/items", """{"job":"img","project":"p"}"""))
        {
            Assert.Contains($"needs the member role in '{team.Name}'", (await enqueue.ProblemAsync(HttpStatusCode.Forbidden)).Detail(), StringComparison.Ordinal);
        }

        using (var ownKey = await SendAsync(viewer, "POST", "/api/v1/keys", """{"name":"mine"}"""))
        {
            Assert.Contains($"managed by the admins of '{team.Name}'", (await ownKey.ProblemAsync(HttpStatusCode.Forbidden)).Detail(), StringComparison.Ordinal);
        }

        await Send(viewer, "PUT", "/api/v1/viewer/default-entity", $$"""{"entity":"{{other.Name}}"}""", HttpStatusCode.Forbidden);
        await Send(viewer, "GET", $"/api/v1/teams/{team.Name}/service-accounts", null, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task DeleteServiceAccount_StopsItsKeysAtOnce_AndItsNameIsNotReused()
    {
        var team = await TeamAsync();
        var key = await AccountKeyAsync(team, "ci", "member");
        await Send(key, "GET", "/api/v1/queues/", null, HttpStatusCode.OK);

        await Send(team.Admin, "DELETE", $"/api/v1/teams/{team.Name}/service-accounts/ci", null, HttpStatusCode.NoContent);

        await Send(key, "GET", "/api/v1/queues/", null, HttpStatusCode.Unauthorized);
        await Send(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts", """{"name":"ci"}""", HttpStatusCode.Conflict);
        await Send(team.Admin, "DELETE", $"/api/v1/teams/{team.Name}/service-accounts/ci", null, HttpStatusCode.NotFound);
        await Send(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts/ci/keys", "{}", HttpStatusCode.NotFound);
        var entries = await EntriesAsync(team.Admin, $"entity={team.Name}&action=service-account.delete");
        Assert.Equal(["denied", "ok"], entries.Select(e => Text(e, "outcome")));
    }

    [Fact]
    public async Task ServiceAccountKeys_AreListedWithoutSecrets_AndARevokedOneStopsAtOnce()
    {
        var team = await TeamAsync();
        await Send(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts", """{"name":"ci"}""", HttpStatusCode.Created);
        using var created = await SendAsync(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts/ci/keys", """{"name":"gpu-box","agent":true,"queues":["q","q"]}""");
        var key = await created.JsonAsync(HttpStatusCode.Created);
        var (id, secret) = (key.GetProperty("id").GetString()!, key.GetProperty("key").GetString()!);

        using (var listed = await SendAsync(team.Admin, "GET", $"/api/v1/teams/{team.Name}/service-accounts/ci/keys", null))
        {
            var text = await listed.Content.ReadAsStringAsync();
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            var only = Assert.Single((await listed.JsonAsync()).GetProperty("keys").EnumerateArray());
            Assert.Equal(["q"], only.GetProperty("agent_queues").EnumerateArray().Select(q => q.GetString()));
        }

        await Send(secret, "GET", "/api/v1/queues/q", null, HttpStatusCode.OK);
        await Send(team.Admin, "DELETE", $"/api/v1/teams/{team.Name}/service-accounts/ci/keys/{id}", null, HttpStatusCode.NoContent);
        await Send(secret, "GET", "/api/v1/queues/q", null, HttpStatusCode.Unauthorized);
        Assert.Single(await EntriesAsync(team.Admin, $"entity={team.Name}&action=service-account.key.revoke&object=ci/{id}"));
    }

    [Fact]
    public async Task CreateServiceAccountOrKey_BadInput_Is400NamingTheField_AndOnAUser404()
    {
        var team = await TeamAsync();

        using (var name = await SendAsync(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts", """{"name":"no spaces","role":"owner"}"""))
        {
            var detail = (await name.ProblemAsync(HttpStatusCode.BadRequest)).Detail();
            Assert.Contains("name:", detail, StringComparison.Ordinal);
            Assert.Contains("role:", detail, StringComparison.Ordinal);
        }

        await Send(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts", """{"name":"ci"}""", HttpStatusCode.Created);
        foreach (var (body, field) in new[] { ("""{"agent":true}""", "queues:"), ("""{"agent":true,"queues":["bad name"]}""", "queues[0]:"), ("""{"queues":["q"]}""", "queues:") })
        {
            using var refused = await SendAsync(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts/ci/keys", body);
            Assert.Contains(field, (await refused.ProblemAsync(HttpStatusCode.BadRequest)).Detail(), StringComparison.Ordinal);
        }

        using var keys = await SendAsync(team.Admin, "GET", $"/api/v1/teams/{team.Name}/service-accounts/ci/keys", null);
        Assert.Empty((await keys.JsonAsync()).GetProperty("keys").EnumerateArray());
        await Send(team.Admin, "GET", $"/api/v1/teams/{team.Name}-admin/service-accounts", null, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task EditQueue_ReplacesItsSettings_AuditedBeforeAndAfter_WithEnvironmentValuesElided()
    {
        var team = await TeamAsync();

        using var edited = await SendAsync(team.Admin, "PUT", $"/api/v1/queues/q?entity={team.Name}",
            $$$"""{"name":"q","resource":"docker","config":{"cpus":2,"env":{"TOKEN":"plain_secret_value"}},"max_attempts":5,"allowed_members":["{{{team.Name}}}-member"],"max_run_seconds":600}""");
        var queue = await edited.JsonAsync();

        Assert.Equal((5, 600, 2), (queue.GetProperty("max_attempts").GetInt32(), queue.GetProperty("max_run_seconds").GetInt32(), queue.GetProperty("config").GetProperty("cpus").GetInt32()));
        Assert.Equal([$"{team.Name}-member"], queue.GetProperty("allowed_members").EnumerateArray().Select(m => m.GetString()));
        var entry = Assert.Single(await EntriesAsync(team.Admin, $"entity={team.Name}&action=queue.edit"));
        Assert.Equal(("q", "ok"), (Text(entry, "object"), Text(entry, "outcome")));
        var detail = entry.GetProperty("detail");
        Assert.Equal(3, detail.GetProperty("before").GetProperty("max_attempts").GetInt32());
        Assert.Equal(5, detail.GetProperty("after").GetProperty("max_attempts").GetInt32());
        Assert.Equal("<elided>", detail.GetProperty("after").GetProperty("config").GetProperty("env").GetProperty("TOKEN").GetString());
        Assert.DoesNotContain("plain_secret_value", entry.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EditQueue_BadSettings_Is400NamingTheField_AndChangesNothing()
    {
        var team = await TeamAsync();

        foreach (var (body, field) in new[]
        {
            ("""{"name":"q","resource":"docker","max_attempts":0}""", "max_attempts:"),
            ("""{"name":"q","resource":"kubernetes"}""", "resource:"),
            ("""{"name":"other","resource":"docker"}""", "name:"),
            ("""{"name":"q","resource":"docker","config":5}""", "config:"),
            ("""{"name":"q","resource":"docker","allowed_members":["stranger"]}""", "allowed_members[0]:"),
        })
        {
            using var refused = await SendAsync(team.Admin, "PUT", $"/api/v1/queues/q?entity={team.Name}", body);
            Assert.Contains(field, (await refused.ProblemAsync(HttpStatusCode.BadRequest)).Detail(), StringComparison.Ordinal);
        }

        await Send(team.Admin, "PUT", $"/api/v1/queues/none?entity={team.Name}", """{"name":"none","resource":"docker"}""", HttpStatusCode.NotFound);
        using var unchanged = await SendAsync(team.Admin, "GET", $"/api/v1/queues/q?entity={team.Name}", null);
        var queue = await unchanged.JsonAsync();
        Assert.Equal((3, JsonValueKind.Null), (queue.GetProperty("max_attempts").GetInt32(), queue.GetProperty("allowed_members").ValueKind));
        Assert.All(await EntriesAsync(team.Admin, $"entity={team.Name}&action=queue.edit"), e => Assert.NotEqual("ok", Text(e, "outcome")));
    }

    private sealed record Team(string Name, string Admin, string Member);

    /// <summary>A fresh team with an admin, a member, a docker queue <c>q</c> and an image job <c>p/img</c>.</summary>
    private async Task<Team> TeamAsync()
    {
        var name = "s" + Guid.NewGuid().ToString("N")[..8];
        var admin = await UserAsync(name + "-admin");
        var member = await UserAsync(name + "-member");
        await Send(server.AdminKey, "POST", "/api/v1/teams/", $$"""{"name":"{{name}}","admin":"{{name}}-admin"}""", HttpStatusCode.Created);
        await Send(admin, "PUT", $"/api/v1/teams/{name}/members/{name}-member", """{"role":"member"}""", HttpStatusCode.OK);
        await Send(admin, "POST", $"/api/v1/queues/?entity={name}", """{"name":"q","resource":"docker"}""", HttpStatusCode.Created);
        await Send(member, "POST", $"/api/v1/jobs/?entity={name}",
            """{"project":"p","name":"img","definition":{"source_type":"image","source":{"image":"ghcr.io/org/train:1"},"entrypoint":["python"]}}""", HttpStatusCode.Created);
        return new Team(name, admin, member);
    }

    private async Task<string> AccountKeyAsync(Team team, string account, string role)
    {
        await Send(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts", $$"""{"name":"{{account}}","role":"{{role}}"}""", HttpStatusCode.Created);
        using var response = await SendAsync(team.Admin, "POST", $"/api/v1/teams/{team.Name}/service-accounts/{account}/keys", "{}");
        return (await response.JsonAsync(HttpStatusCode.Created)).GetProperty("key").GetString()!;
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
