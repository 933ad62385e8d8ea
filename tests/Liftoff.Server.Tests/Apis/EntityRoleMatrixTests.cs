using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>
/// The table of docs/api.md ("What each role may do in a team"): every endpoint the server maps, called on a team
/// (<c>?entity=</c> the team) by the server admin, the team's admin, a member, a viewer and a user outside the team.
/// What a role may not do is 403 naming the role needed; an outsider gets 404, as if the team did not exist. Allowed
/// calls are made to fail validation or to miss where they would change things, so the table reads the same in any order.
/// An endpoint without a row fails the test.
/// </summary>
public sealed class EntityRoleMatrixTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const int Ok = 200, Created = 201, NoContent = 204, Bad = 400, Forbidden = 403, Missing = 404;

    private static (int, int, int, int, int) Viewer(int allowed) => (allowed, allowed, allowed, allowed, Missing);

    private static (int, int, int, int, int) Member(int allowed) => (allowed, allowed, allowed, Forbidden, Missing);

    private static (int, int, int, int, int) Admin(int allowed) => (allowed, allowed, Forbidden, Forbidden, Missing);

    /// <summary>Not about the team: the caller's own identity, or no key at all.</summary>
    private static (int, int, int, int, int) Anyone(int allowed) => (allowed, allowed, allowed, allowed, allowed);

    /// <summary>Method and route pattern, the request, then server admin, team admin, member, viewer, outsider.</summary>
    private static readonly (string Endpoint, string Path, string? Body, (int ServerAdmin, int TeamAdmin, int Member, int Viewer, int Outsider) Expected)[] Rows =
    [
        ("GET /healthz", "/healthz", null, Anyone(Ok)),
        ("GET /metrics", "/metrics", null, (Ok, Forbidden, Forbidden, Forbidden, Forbidden)),
        ("GET /openapi/{documentName}.json", "/openapi/v1.json", null, Anyone(Ok)),

        ("GET /api/v1/viewer", "/api/v1/viewer", null, Anyone(Ok)),
        ("PUT /api/v1/viewer/default-entity", "/api/v1/viewer/default-entity", """{"entity":null}""", Anyone(Ok)),
        ("POST /api/v1/users", "/api/v1/users", """{"name":""}""", (Bad, Forbidden, Forbidden, Forbidden, Forbidden)),
        ("POST /api/v1/keys", "/api/v1/keys", """{"name":""}""", Anyone(Bad)),
        ("GET /api/v1/keys", "/api/v1/keys", null, Anyone(Ok)),
        ("DELETE /api/v1/keys/{id}", "/api/v1/keys/key_none", null, Anyone(Missing)),
        ("GET /api/v1/projects/", "/api/v1/projects/", null, Viewer(Ok)),
        ("GET /api/v1/audit/", "/api/v1/audit/", null, Admin(Ok)),

        ("POST /api/v1/teams/", "/api/v1/teams/", """{"name":"","admin":"x"}""", (Bad, Forbidden, Forbidden, Forbidden, Forbidden)),
        ("GET /api/v1/teams/", "/api/v1/teams/", null, Anyone(Ok)),
        ("GET /api/v1/teams/{name}", "/api/v1/teams/{team}", null, Viewer(Ok)),
        ("PUT /api/v1/teams/{name}/members/{user}", "/api/v1/teams/{team}/members/nobody", """{"role":"member"}""", Admin(Missing)),
        ("DELETE /api/v1/teams/{name}/members/{user}", "/api/v1/teams/{team}/members/nobody", null, Admin(Missing)),
        ("POST /api/v1/teams/{team}/service-accounts/", "/api/v1/teams/{team}/service-accounts/", """{"name":""}""", Admin(Bad)),
        ("GET /api/v1/teams/{team}/service-accounts/", "/api/v1/teams/{team}/service-accounts/", null, Admin(Ok)),
        ("DELETE /api/v1/teams/{team}/service-accounts/{account}", "/api/v1/teams/{team}/service-accounts/none", null, Admin(Missing)),
        ("POST /api/v1/teams/{team}/service-accounts/{account}/keys", "/api/v1/teams/{team}/service-accounts/none/keys", "{}", Admin(Missing)),
        ("GET /api/v1/teams/{team}/service-accounts/{account}/keys", "/api/v1/teams/{team}/service-accounts/none/keys", null, Admin(Missing)),
        ("DELETE /api/v1/teams/{team}/service-accounts/{account}/keys/{id}", "/api/v1/teams/{team}/service-accounts/none/keys/key_none", null, Admin(Missing)),

        ("POST /api/v1/runs/", "/api/v1/runs/", """{"project":"p","config":5}""", Member(Bad)),
        ("GET /api/v1/runs/", "/api/v1/runs/", null, Viewer(Ok)),
        ("GET /api/v1/runs/{id}", "/api/v1/runs/{run}", null, Viewer(Ok)),
        ("PATCH /api/v1/runs/{id}", "/api/v1/runs/{run}", """{"summary":5}""", Member(Bad)),
        ("POST /api/v1/runs/{id}/history", "/api/v1/runs/{run}/history", "{}", Member(Bad)),
        ("GET /api/v1/runs/{id}/history", "/api/v1/runs/{run}/history", null, Viewer(Ok)),
        ("POST /api/v1/runs/{id}/logs", "/api/v1/runs/{run}/logs", "{}", Member(Bad)),
        ("GET /api/v1/runs/{id}/logs", "/api/v1/runs/{run}/logs", null, Viewer(Ok)),
        ("POST /api/v1/runs/{id}/heartbeat", "/api/v1/runs/none/heartbeat", null, Member(Missing)),
        ("POST /api/v1/runs/{id}/finish", "/api/v1/runs/{run}/finish", """{"exit_code":"zero"}""", Member(Bad)),
        ("POST /api/v1/runs/{id}/stop", "/api/v1/runs/none/stop", null, Member(Missing)),
        ("GET /api/v1/runs/{id}/artifacts/", "/api/v1/runs/{run}/artifacts/", null, Viewer(Ok)),
        ("POST /api/v1/runs/{id}/artifacts/used", "/api/v1/runs/{run}/artifacts/used", """{"artifact":"bad ref!"}""", Member(Bad)),

        ("GET /api/v1/secrets/", "/api/v1/secrets/", null, Viewer(Ok)),
        ("PUT /api/v1/secrets/{name}", "/api/v1/secrets/MATRIX_TOKEN", "{}", Admin(Bad)),
        ("DELETE /api/v1/secrets/{name}", "/api/v1/secrets/NONE", null, Admin(Missing)),

        ("POST /api/v1/queues/", "/api/v1/queues/", "{}", Admin(Bad)),
        ("GET /api/v1/queues/", "/api/v1/queues/", null, Viewer(Ok)),
        ("GET /api/v1/queues/{name}", "/api/v1/queues/q", null, Viewer(Ok)),
        ("PUT /api/v1/queues/{name}", "/api/v1/queues/none", """{"name":"none","resource":"docker"}""", Admin(Missing)),
        ("DELETE /api/v1/queues/{name}", "/api/v1/queues/none", null, Admin(Missing)),
        ("POST /api/v1/queues/{name}/items", "/api/v1/queues/q/items", "{}", Member(Bad)),
        ("POST /api/v1/queues/{name}/dry-run", "/api/v1/queues/q/dry-run", "{}", Member(Bad)),
        ("GET /api/v1/queues/{name}/items", "/api/v1/queues/q/items", null, Viewer(Ok)),
        // "restricted" takes launches from its allowed members (the viewer only, who lacks the role) and the admins.
        ("POST /api/v1/queues/{name}/items", "/api/v1/queues/restricted/items", "{}", Admin(Bad)),
        ("POST /api/v1/queues/{name}/dry-run", "/api/v1/queues/restricted/dry-run", "{}", Admin(Bad)),
        ("GET /api/v1/queues/{name}", "/api/v1/queues/restricted", null, Viewer(Ok)),

        ("GET /api/v1/items/{id}", "/api/v1/items/item_none", null, Viewer(Missing)),
        ("GET /api/v1/items/{id}/history", "/api/v1/items/item_none/history", null, Viewer(Missing)),
        ("POST /api/v1/items/{id}/cancel", "/api/v1/items/item_none/cancel", null, Member(Missing)),
        ("POST /api/v1/items/{id}/heartbeat", "/api/v1/items/item_none/heartbeat", """{"attempt":1}""", Member(Missing)),
        ("POST /api/v1/items/{id}/progress", "/api/v1/items/item_none/progress", """{"attempt":1,"state":"running"}""", Member(Missing)),
        ("POST /api/v1/items/{id}/release", "/api/v1/items/item_none/release", """{"attempt":1}""", Member(Bad)),

        ("POST /api/v1/agents/", "/api/v1/agents/", "{}", Member(Bad)),
        ("GET /api/v1/agents/", "/api/v1/agents/", null, Viewer(Ok)),
        ("POST /api/v1/agents/{id}/heartbeat", "/api/v1/agents/agent_none/heartbeat", "{}", Member(Bad)),
        ("POST /api/v1/agents/{id}/stop", "/api/v1/agents/agent_none/stop", null, Admin(Missing)),
        ("POST /api/v1/agents/{id}/claim", "/api/v1/agents/agent_none/claim", "{}", Member(Missing)),

        ("POST /api/v1/blobs/check", "/api/v1/blobs/check", "{}", Member(Bad)),
        ("POST /api/v1/blobs/uploads", "/api/v1/blobs/uploads", "{}", Member(Bad)),
        ("PUT /api/v1/blobs/{sha256}", "/api/v1/blobs/not-a-digest", "{}", Member(Bad)),
        ("POST /api/v1/blobs/{sha256}/complete", "/api/v1/blobs/not-a-digest/complete", "{}", Member(Bad)),
        ("GET /api/v1/blobs/{sha256}", "/api/v1/blobs/not-a-digest", null, Viewer(Bad)),

        ("GET /api/v1/artifacts/", "/api/v1/artifacts/", null, Viewer(Ok)),
        ("POST /api/v1/artifacts/{project}/{name}", "/api/v1/artifacts/p/made", "{}", Member(Bad)),
        ("GET /api/v1/artifacts/{project}/{name}", "/api/v1/artifacts/p/none", null, Viewer(Missing)),
        ("GET /api/v1/artifacts/{project}/{name}/{reference}", "/api/v1/artifacts/p/none/v0", null, Viewer(Missing)),
        ("PUT /api/v1/artifacts/{project}/{name}/aliases/{alias}", "/api/v1/artifacts/p/none/aliases/staging", "{}", Member(Bad)),

        ("POST /api/v1/jobs/", "/api/v1/jobs/", "{}", Member(Bad)),
        ("GET /api/v1/jobs/", "/api/v1/jobs/", null, Viewer(Ok)),
        ("GET /api/v1/jobs/{project}/{name}", "/api/v1/jobs/p/none", null, Viewer(Missing)),

        ("GET /sdk/python/", "/sdk/python/", null, Anyone(Ok)),
        ("GET /sdk/python/{file}", "/sdk/python/none.whl", null, Anyone(Missing)),
        ("GET /sdk/python/simple/", "/sdk/python/simple/", null, Anyone(Ok)),
        ("GET /sdk/python/simple/liftoff/", "/sdk/python/simple/liftoff/", null, Anyone(Ok)),

        ("POST /graphql", "/graphql", """{"query":"{ viewer { entity } }"}""", Member(Ok)),
        ("POST /files/{entity}/{project}/{run}/file_stream", "/files/{team}/p/{run}/file_stream", """{"files":{}}""", Member(Ok)),

        ("POST /web/session/", "/web/session/", "{}", Anyone(Bad)),
        ("GET /web/session/", "/web/session/", null, Anyone(NoContent)),
        ("DELETE /web/session/", "/web/session/", null, Anyone(NoContent)),
        ("GET /", "/", null, Anyone(Ok)),
        ("GET /app/{**path}", "/app/none.js", null, Anyone(Missing)),
        ("GET /runs/{id}", "/runs/{run}", null, Anyone(Ok)),
    ];

    [Fact]
    public void EveryEndpointHasARow()
    {
        var mapped = server.Server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => $"{m} {e.RoutePattern.RawText}"))
            .ToHashSet(StringComparer.Ordinal);
        var rows = Rows.Select(r => r.Endpoint).ToHashSet(StringComparer.Ordinal);

        Assert.True(mapped.SetEquals(rows),
            $"endpoints without a row (add one here and to docs/api.md): {string.Join(", ", mapped.Except(rows))}; rows without an endpoint: {string.Join(", ", rows.Except(mapped))}");
    }

    [Fact]
    public async Task EveryEndpoint_AnswersEachRoleInTheTeamAsTheTableSays()
    {
        var team = await TeamAsync();
        var failures = new List<string>();
        foreach (var (endpoint, template, body, expected) in Rows)
        {
            var path = template.Replace("{run}", team.Run, StringComparison.Ordinal).Replace("{team}", team.Name, StringComparison.Ordinal) + "?entity=" + team.Name;
            foreach (var (who, key, status) in new[]
            {
                ("server admin", server.AdminKey, expected.ServerAdmin), ("team admin", team.Admin, expected.TeamAdmin),
                ("member", team.Member, expected.Member), ("viewer", team.Viewer, expected.Viewer), ("outsider", team.Outsider, expected.Outsider),
            })
            {
                using var response = await SendAsync(key, endpoint[..endpoint.IndexOf(' ')], path, body);
                var text = await response.Content.ReadAsStringAsync();
                if ((int)response.StatusCode != status)
                {
                    failures.Add($"{endpoint} as {who}: expected {status}, got {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}");
                }
                else if (status == Forbidden && endpoint.Contains("/api/v1/", StringComparison.Ordinal) && !endpoint.Contains("/users", StringComparison.Ordinal)
                    && !endpoint.StartsWith("POST /api/v1/teams", StringComparison.Ordinal)
                    && JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString() is var detail
                    && !detail!.Contains($"role in '{team.Name}'", StringComparison.Ordinal)
                    && !(path.Contains("/restricted/", StringComparison.Ordinal) && detail.Contains($"queue 'restricted' of '{team.Name}' is restricted to some members", StringComparison.Ordinal)))
                {
                    failures.Add($"{endpoint} as {who}: the 403 does not name the role needed in the team: {text}");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task CancelItem_AMemberCancelsTheirOwnItemButNotAnothersWhichAnAdminCancels()
    {
        var team = await TeamAsync();
        var mine = await EnqueueAsync(team, team.Member);
        var theirs = await EnqueueAsync(team, team.Admin);

        using (var own = await SendAsync(team.Member, "POST", $"/api/v1/items/{mine}/cancel?entity={team.Name}", null))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using (var other = await SendAsync(team.Member, "POST", $"/api/v1/items/{theirs}/cancel?entity={team.Name}", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
            Assert.Contains($"only an admin of '{team.Name}'", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var stillPending = await SendAsync(team.Member, "GET", $"/api/v1/items/{theirs}?entity={team.Name}", null))
        {
            Assert.Equal("pending", JsonDocument.Parse(await stillPending.Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString());
        }

        var byMember = await EnqueueAsync(team, team.Member);
        using var admin = await SendAsync(team.Admin, "POST", $"/api/v1/items/{byMember}/cancel?entity={team.Name}", null);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    [Fact]
    public async Task Enqueue_ByAViewer_Is403AndStoresNothing()
    {
        var team = await TeamAsync();

        using var refused = await SendAsync(team.Viewer, "POST", $"/api/v1/queues/q/items?entity={team.Name}", """{"job":"none","project":"p"}""");
        using var items = await SendAsync(team.Viewer, "GET", $"/api/v1/queues/q/items?entity={team.Name}", null);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains($"needs the member role in '{team.Name}'", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, JsonDocument.Parse(await items.Content.ReadAsStringAsync()).RootElement.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Enqueue_OnARestrictedQueue_TakesItsAllowedMembersAndAdminsOnly()
    {
        var team = await TeamAsync();
        await Check(await SendAsync(team.Admin, "PUT", $"/api/v1/teams/{team.Name}/members/{team.ViewerName}", """{"role":"member"}"""), HttpStatusCode.OK);
        const string launch = """{"job":"img","project":"p"}""";

        using var allowed = await SendAsync(team.Viewer, "POST", $"/api/v1/queues/restricted/items?entity={team.Name}", launch);
        using var refused = await SendAsync(team.Member, "POST", $"/api/v1/queues/restricted/items?entity={team.Name}", launch);
        using var byAdmin = await SendAsync(team.Admin, "POST", $"/api/v1/queues/restricted/items?entity={team.Name}", launch);
        using var items = await SendAsync(team.Member, "GET", $"/api/v1/queues/restricted/items?entity={team.Name}", null);
        using var described = await SendAsync(team.Member, "GET", $"/api/v1/queues/restricted?entity={team.Name}", null);

        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains($"queue 'restricted' of '{team.Name}' is restricted to some members ({team.ViewerName})", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, byAdmin.StatusCode);
        Assert.Equal(2, JsonDocument.Parse(await items.Content.ReadAsStringAsync()).RootElement.GetProperty("items").GetArrayLength());
        Assert.Equal([team.ViewerName], JsonDocument.Parse(await described.Content.ReadAsStringAsync()).RootElement.GetProperty("allowed_members").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task CreateQueue_AllowedMembersOutsideTheTeamOrOnAUsersQueue_IsRefusedNamingTheField()
    {
        var team = await TeamAsync();

        using var stranger = await SendAsync(team.Admin, "POST", $"/api/v1/queues/?entity={team.Name}", """{"name":"r2","resource":"docker","allowed_members":["nobody"]}""");
        using var empty = await SendAsync(team.Admin, "POST", $"/api/v1/queues/?entity={team.Name}", """{"name":"r3","resource":"docker","allowed_members":[]}""");
        using var ownQueue = await SendAsync(team.Admin, "POST", "/api/v1/queues/", """{"name":"r4","resource":"docker","allowed_members":["x"]}""");
        using var queues = await SendAsync(team.Admin, "GET", $"/api/v1/queues/?entity={team.Name}", null);

        Assert.Equal(HttpStatusCode.BadRequest, stranger.StatusCode);
        Assert.Contains("allowed_members[0]", await stranger.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, ownQueue.StatusCode);
        Assert.Contains("only a team's queue", await ownQueue.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(["q", "restricted"], JsonDocument.Parse(await queues.Content.ReadAsStringAsync()).RootElement.GetProperty("queues").EnumerateArray().Select(q => q.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task SetMember_ARoleChange_TakesEffectOnTheNextRequest()
    {
        var team = await TeamAsync();
        using (var before = await SendAsync(team.Viewer, "POST", $"/api/v1/queues/q/dry-run?entity={team.Name}", "{}"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, before.StatusCode);
        }

        using (var promote = await SendAsync(team.Admin, "PUT", $"/api/v1/teams/{team.Name}/members/{team.ViewerName}", """{"role":"member"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, promote.StatusCode);
        }

        using (var after = await SendAsync(team.Viewer, "POST", $"/api/v1/queues/q/dry-run?entity={team.Name}", "{}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, after.StatusCode);
        }

        using (var remove = await SendAsync(team.Admin, "DELETE", $"/api/v1/teams/{team.Name}/members/{team.ViewerName}", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, remove.StatusCode);
        }

        using var gone = await SendAsync(team.Viewer, "GET", $"/api/v1/queues/?entity={team.Name}", null);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task RunKey_NamingAnotherEntity_IsRefused()
    {
        var team = await TeamAsync();
        var run = await LaunchAsync(team);

        using var own = await SendAsync(run.Key, "GET", $"/api/v1/runs/{run.Id}?entity={team.Name}", null);
        using var other = await SendAsync(run.Key, "GET", $"/api/v1/runs/{run.Id}?entity={team.Name}-member", null);

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Contains("acts on its run's entity", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DefaultEntity_IsWhereRequestsNamingNoEntityAct()
    {
        var team = await TeamAsync();
        using (var set = await SendAsync(team.Member, "PUT", "/api/v1/viewer/default-entity", $$"""{"entity":"{{team.Name}}"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        using (var queues = await SendAsync(team.Member, "GET", "/api/v1/queues/", null))
        {
            Assert.Equal(["q", "restricted"], JsonDocument.Parse(await queues.Content.ReadAsStringAsync()).RootElement.GetProperty("queues").EnumerateArray().Select(q => q.GetProperty("name").GetString()));
        }

        using var outsider = await SendAsync(team.Outsider, "PUT", "/api/v1/viewer/default-entity", $$"""{"entity":"{{team.Name}}"}""");
        Assert.Equal(HttpStatusCode.NotFound, outsider.StatusCode);
    }

    private sealed record Team(string Name, string Admin, string Member, string Viewer, string ViewerName, string Outsider, string Run);

    /// <summary>A fresh team with an admin, a member, a viewer, a queue <c>q</c>, an image job <c>p/img</c> and a run; and a user outside it.</summary>
    private async Task<Team> TeamAsync()
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..8];
        var admin = await UserAsync(name + "-admin");
        var member = await UserAsync(name + "-member");
        var viewer = await UserAsync(name + "-viewer");
        var outsider = await UserAsync(name + "-outsider");
        await Check(await SendAsync(server.AdminKey, "POST", "/api/v1/teams/", $$"""{"name":"{{name}}","admin":"{{name}}-admin"}"""), HttpStatusCode.Created);
        await Check(await SendAsync(admin, "PUT", $"/api/v1/teams/{name}/members/{name}-member", """{"role":"member"}"""), HttpStatusCode.OK);
        await Check(await SendAsync(admin, "PUT", $"/api/v1/teams/{name}/members/{name}-viewer", """{"role":"viewer"}"""), HttpStatusCode.OK);
        await Check(await SendAsync(admin, "POST", $"/api/v1/queues/?entity={name}", """{"name":"q","resource":"docker"}"""), HttpStatusCode.Created);
        await Check(await SendAsync(admin, "POST", $"/api/v1/queues/?entity={name}", $$"""{"name":"restricted","resource":"docker","allowed_members":["{{name}}-viewer"]}"""), HttpStatusCode.Created);
        await Check(await SendAsync(member, "POST", $"/api/v1/jobs/?entity={name}",
            """{"project":"p","name":"img","definition":{"source_type":"image","source":{"image":"ghcr.io/org/train:1"},"entrypoint":["python"]}}"""), HttpStatusCode.Created);
        using var run = await SendAsync(member, "POST", $"/api/v1/runs/?entity={name}", """{"project":"p"}""");
        var runId = JsonDocument.Parse(await run.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        return new Team(name, admin, member, viewer, name + "-viewer", outsider, runId);
    }

    private async Task<string> EnqueueAsync(Team team, string key)
    {
        using var response = await SendAsync(key, "POST", $"/api/v1/queues/q/items?entity={team.Name}", """{"job":"img","project":"p"}""");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>A member's agent claims an item of the team's queue: the run's key is the team's.</summary>
    private async Task<(string Id, string Key)> LaunchAsync(Team team)
    {
        await EnqueueAsync(team, team.Member);
        using var agent = await SendAsync(team.Member, "POST", $"/api/v1/agents/?entity={team.Name}", """{"name":"a","queues":["q"]}""");
        var agentId = JsonDocument.Parse(await agent.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        using var claim = await SendAsync(team.Member, "POST", $"/api/v1/agents/{agentId}/claim?entity={team.Name}", """{"wait_seconds":5}""");
        var claimed = JsonDocument.Parse(await claim.Content.ReadAsStringAsync()).RootElement;
        return (claimed.GetProperty("item").GetProperty("run_id").GetString()!, claimed.GetProperty("spec").GetProperty("environment").GetProperty("LIFTOFF_API_KEY").GetString()!);
    }

    private async Task<string> UserAsync(string name)
    {
        using var response = await SendAsync(server.AdminKey, "POST", "/api/v1/users", $$"""{"name":"{{name}}"}""");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("key").GetProperty("key").GetString()!;
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

    private static async Task Check(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}
