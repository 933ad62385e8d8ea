using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>
/// The table of docs/api.md ("What an agent-only key may do"): every endpoint the server maps, called with an
/// agent-only key of the owner limited to queue A, whose agent holds item A (the code job p/train). What it may reach
/// answers as for any key; the rest is 403 with a problem saying the key is agent-only, whatever the owner's own role
/// (the owner here is the server admin). Rows naming queue B, its agent, its item or a run not launched from A are the
/// resources it may not reach. An endpoint without a row fails the test.
/// </summary>
public sealed class AgentKeyMatrixTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const int Ok = 200, NoContent = 204, Bad = 400, Forbidden = 403, Missing = 404, Conflict = 409;

    /// <summary>Method and route pattern, the request (placeholders in braces are filled in), and what the agent-only key gets.</summary>
    private static readonly (string Endpoint, string Path, string? Body, int Expected)[] Rows =
    [
        ("GET /healthz", "/healthz", null, Ok),
        ("GET /metrics", "/metrics", null, Forbidden),
        ("GET /api/v1/audit/", "/api/v1/audit/", null, Forbidden),
        ("POST /api/v1/admin/backup", "/api/v1/admin/backup", "{}", Forbidden),
        ("GET /api/v1/admin/usage", "/api/v1/admin/usage", null, Forbidden),
        ("GET /openapi/{documentName}.json", "/openapi/v1.json", null, Ok),

        ("GET /api/v1/viewer", "/api/v1/viewer", null, Ok),
        ("POST /api/v1/users", "/api/v1/users", "{}", Forbidden),
        ("POST /api/v1/keys", "/api/v1/keys", """{"name":"matrix"}""", Forbidden),
        ("GET /api/v1/keys", "/api/v1/keys", null, Forbidden),
        ("DELETE /api/v1/keys/{id}", "/api/v1/keys/key_none", null, Forbidden),
        ("GET /api/v1/projects/", "/api/v1/projects/", null, Forbidden),
        ("PUT /api/v1/viewer/default-entity", "/api/v1/viewer/default-entity", """{"entity":null}""", Forbidden),

        ("POST /api/v1/teams/", "/api/v1/teams/", "{}", Forbidden),
        ("GET /api/v1/teams/", "/api/v1/teams/", null, Forbidden),
        ("GET /api/v1/teams/{name}", "/api/v1/teams/none", null, Missing),
        ("PUT /api/v1/teams/{name}/members/{user}", "/api/v1/teams/none/members/none", """{"role":"member"}""", Missing),
        ("DELETE /api/v1/teams/{name}/members/{user}", "/api/v1/teams/none/members/none", null, Missing),
        ("POST /api/v1/teams/{team}/service-accounts/", "/api/v1/teams/none/service-accounts/", """{"name":"ci"}""", Missing),
        ("GET /api/v1/teams/{team}/service-accounts/", "/api/v1/teams/none/service-accounts/", null, Missing),
        ("DELETE /api/v1/teams/{team}/service-accounts/{account}", "/api/v1/teams/none/service-accounts/none", null, Missing),
        ("POST /api/v1/teams/{team}/service-accounts/{account}/keys", "/api/v1/teams/none/service-accounts/none/keys", "{}", Missing),
        ("GET /api/v1/teams/{team}/service-accounts/{account}/keys", "/api/v1/teams/none/service-accounts/none/keys", null, Missing),
        ("DELETE /api/v1/teams/{team}/service-accounts/{account}/keys/{id}", "/api/v1/teams/none/service-accounts/none/keys/key_none", null, Missing),

        ("POST /api/v1/runs/", "/api/v1/runs/", """{"project":"p"}""", Forbidden),
        ("GET /api/v1/runs/", "/api/v1/runs/", null, Forbidden),
        ("GET /api/v1/runs/{id}", "/api/v1/runs/{runA}", null, Ok),
        ("GET /api/v1/runs/{id}", "/api/v1/runs/{loose}", null, Forbidden),
        ("PATCH /api/v1/runs/{id}", "/api/v1/runs/{runA}", """{"summary":{"acc":1}}""", Forbidden),
        ("POST /api/v1/runs/{id}/history", "/api/v1/runs/{runA}/history", "{}", Forbidden),
        ("GET /api/v1/runs/{id}/history", "/api/v1/runs/{runA}/history", null, Forbidden),
        ("POST /api/v1/runs/{id}/logs", "/api/v1/runs/{runA}/logs", "{}", Bad),
        ("POST /api/v1/runs/{id}/logs", "/api/v1/runs/{loose}/logs", "{}", Forbidden),
        ("GET /api/v1/runs/{id}/logs", "/api/v1/runs/{runA}/logs", null, Ok),
        ("GET /api/v1/runs/{id}/logs", "/api/v1/runs/{loose}/logs", null, Forbidden),
        ("POST /api/v1/runs/{id}/heartbeat", "/api/v1/runs/{runA}/heartbeat", null, Forbidden),
        ("POST /api/v1/runs/{id}/finish", "/api/v1/runs/{runA}/finish", """{"exit_code":"zero"}""", Bad),
        ("POST /api/v1/runs/{id}/finish", "/api/v1/runs/{loose}/finish", """{"exit_code":"zero"}""", Forbidden),
        ("POST /api/v1/runs/{id}/stop", "/api/v1/runs/{runA}/stop", null, Forbidden),
        ("GET /api/v1/runs/{id}/artifacts/", "/api/v1/runs/{runA}/artifacts/", null, Forbidden),
        ("POST /api/v1/runs/{id}/artifacts/used", "/api/v1/runs/{runA}/artifacts/used", """{"artifact":"data:v0"}""", Forbidden),

        ("GET /api/v1/secrets/", "/api/v1/secrets/", null, Forbidden),
        ("PUT /api/v1/secrets/{name}", "/api/v1/secrets/MATRIX_TOKEN", """{"value":"v"}""", Forbidden),
        ("DELETE /api/v1/secrets/{name}", "/api/v1/secrets/NONE", null, Forbidden),

        ("POST /api/v1/queues/", "/api/v1/queues/", "{}", Forbidden),
        ("GET /api/v1/queues/", "/api/v1/queues/", null, Forbidden),
        ("GET /api/v1/queues/{name}", "/api/v1/queues/{queueA}", null, Ok),
        ("GET /api/v1/queues/{name}", "/api/v1/queues/{queueB}", null, Forbidden),
        ("PUT /api/v1/queues/{name}", "/api/v1/queues/{queueA}", """{"name":"{queueA}","resource":"local-process"}""", Forbidden),
        ("DELETE /api/v1/queues/{name}", "/api/v1/queues/none", null, Forbidden),
        ("POST /api/v1/queues/{name}/items", "/api/v1/queues/{queueA}/items", """{"job":"train","project":"p"}""", Forbidden),
        ("POST /api/v1/queues/{name}/dry-run", "/api/v1/queues/{queueA}/dry-run", "{}", Forbidden),
        ("GET /api/v1/queues/{name}/items", "/api/v1/queues/{queueA}/items", null, Forbidden),
        ("POST /api/v1/queues/{name}/pause", "/api/v1/queues/{queueA}/pause", null, Forbidden),
        ("POST /api/v1/queues/{name}/resume", "/api/v1/queues/{queueA}/resume", null, Forbidden),

        ("GET /api/v1/items/{id}", "/api/v1/items/{itemA}", null, Forbidden),
        ("GET /api/v1/items/{id}/history", "/api/v1/items/{itemA}/history", null, Forbidden),
        ("POST /api/v1/items/{id}/cancel", "/api/v1/items/{itemA}/cancel", null, Forbidden),
        ("POST /api/v1/items/{id}/move", "/api/v1/items/{itemA}/move", """{"to":"top"}""", Forbidden),
        ("POST /api/v1/items/{id}/heartbeat", "/api/v1/items/{itemA}/heartbeat", """{"attempt":1}""", Ok),
        ("POST /api/v1/items/{id}/heartbeat", "/api/v1/items/{itemB}/heartbeat", """{"attempt":1}""", Forbidden),
        ("POST /api/v1/items/{id}/progress", "/api/v1/items/{itemA}/progress", """{"attempt":1,"state":"bogus"}""", Conflict),
        ("POST /api/v1/items/{id}/progress", "/api/v1/items/{itemB}/progress", """{"attempt":1,"state":"running"}""", Forbidden),
        ("POST /api/v1/items/{id}/release", "/api/v1/items/item_none/release", """{"attempt":1}""", Bad),
        ("POST /api/v1/items/{id}/release", "/api/v1/items/{itemB}/release", """{"attempt":1}""", Forbidden),

        ("POST /api/v1/agents/", "/api/v1/agents/", "{}", Bad),
        ("POST /api/v1/agents/", "/api/v1/agents/", """{"name":"b","queues":["{queueB}"]}""", Forbidden),
        ("GET /api/v1/agents/", "/api/v1/agents/", null, Ok),
        ("POST /api/v1/agents/{id}/heartbeat", "/api/v1/agents/{agentA}/heartbeat", """{"state":"running","running_items":1}""", Ok),
        ("POST /api/v1/agents/{id}/heartbeat", "/api/v1/agents/{agentB}/heartbeat", """{"state":"running","running_items":1}""", Forbidden),
        ("POST /api/v1/agents/{id}/stop", "/api/v1/agents/{agentA}/stop", null, Forbidden),
        ("POST /api/v1/agents/{id}/claim", "/api/v1/agents/{agentA}/claim", """{"wait_seconds":0}""", NoContent),
        ("POST /api/v1/agents/{id}/claim", "/api/v1/agents/{agentB}/claim", """{"wait_seconds":0}""", Forbidden),

        ("POST /api/v1/blobs/check", "/api/v1/blobs/check", """{"files":[]}""", Forbidden),
        ("POST /api/v1/blobs/uploads", "/api/v1/blobs/uploads", """{"blobs":[]}""", Forbidden),
        ("PUT /api/v1/blobs/{sha256}", "/api/v1/blobs/not-a-digest", "{}", Forbidden),
        ("POST /api/v1/blobs/{sha256}/complete", "/api/v1/blobs/{code}/complete", "{}", Forbidden),
        ("GET /api/v1/blobs/{sha256}", "/api/v1/blobs/{code}", null, Ok),
        ("GET /api/v1/blobs/{sha256}", "/api/v1/blobs/{data}", null, Forbidden),

        ("GET /api/v1/artifacts/", "/api/v1/artifacts/", null, Forbidden),
        ("POST /api/v1/artifacts/{project}/{name}", "/api/v1/artifacts/p/made", "{}", Forbidden),
        ("GET /api/v1/artifacts/{project}/{name}", "/api/v1/artifacts/p/data", null, Forbidden),
        ("GET /api/v1/artifacts/{project}/{name}/{reference}", "/api/v1/artifacts/p/code/v0", null, Ok),
        ("GET /api/v1/artifacts/{project}/{name}/{reference}", "/api/v1/artifacts/p/data/v0", null, Forbidden),
        ("PUT /api/v1/artifacts/{project}/{name}/aliases/{alias}", "/api/v1/artifacts/p/data/aliases/staging", """{"version":"v0"}""", Forbidden),

        ("POST /api/v1/jobs/", "/api/v1/jobs/", "{}", Forbidden),
        ("GET /api/v1/jobs/", "/api/v1/jobs/", null, Forbidden),
        ("GET /api/v1/jobs/{project}/{name}", "/api/v1/jobs/p/train", null, Forbidden),

        ("GET /sdk/python/", "/sdk/python/", null, Ok),
        ("GET /sdk/python/{file}", "/sdk/python/none.whl", null, Missing),
        ("GET /sdk/python/simple/", "/sdk/python/simple/", null, Ok),
        ("GET /sdk/python/simple/liftoff/", "/sdk/python/simple/liftoff/", null, Ok),

        ("POST /graphql", "/graphql", """{"query":"{ viewer { entity } }"}""", Forbidden),
        ("POST /files/{entity}/{project}/{run}/file_stream", "/files/admin/p/{runA}/file_stream", """{"files":{}}""", Forbidden),

        ("POST /web/session/", "/web/session/", "{}", Bad),
        ("GET /web/session/", "/web/session/", null, NoContent),
        ("DELETE /web/session/", "/web/session/", null, Forbidden),
        ("GET /", "/", null, Ok),
        ("GET /app/{**path}", "/app/none.js", null, Missing),
        ("GET /runs/{id}", "/runs/{runA}", null, Ok),
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
    public async Task EveryEndpoint_AnswersTheAgentOnlyKeyAsTheTableSays()
    {
        var world = await SetUpAsync();
        var failures = new List<string>();
        foreach (var (endpoint, template, body, expected) in Rows)
        {
            var path = world.Fill(template);
            using var http = server.Http(world.Key);
            using var request = new HttpRequestMessage(new HttpMethod(endpoint[..endpoint.IndexOf(' ')]), path);
            if (body is not null)
            {
                request.Content = new StringContent(world.Fill(body), Encoding.UTF8, "application/json");
            }

            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode != expected)
            {
                failures.Add($"{endpoint} ({path}): expected {expected}, got {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}");
            }
            else if (expected == Forbidden
                && (response.Content.Headers.ContentType?.MediaType != "application/problem+json"
                    || !JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString()!.Contains("this API key is agent-only", StringComparison.Ordinal)
                    || text.Contains(world.Key, StringComparison.Ordinal)))
            {
                failures.Add($"{endpoint} ({path}): the 403 is not a problem saying the key is agent-only: {text}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task AgentList_ShowsAnAgentOnlyKeyTheAgentsOfItsQueuesOnly()
    {
        var world = await SetUpAsync();
        using var agentClient = server.Client(world.Key);

        var listed = (await agentClient.ListAgentsAsync()).Agents.Select(a => a.Id).ToList();

        Assert.Contains(world.AgentA, listed);
        Assert.DoesNotContain(world.AgentB, listed);
    }

    private sealed record World(string Key, string QueueA, string QueueB, string AgentA, string AgentB, string ItemA, string ItemB, string RunA, string Loose, string Code, string Data)
    {
        public string Fill(string template) => template
            .Replace("{queueA}", QueueA, StringComparison.Ordinal).Replace("{queueB}", QueueB, StringComparison.Ordinal)
            .Replace("{agentA}", AgentA, StringComparison.Ordinal).Replace("{agentB}", AgentB, StringComparison.Ordinal)
            .Replace("{itemA}", ItemA, StringComparison.Ordinal).Replace("{itemB}", ItemB, StringComparison.Ordinal)
            .Replace("{runA}", RunA, StringComparison.Ordinal).Replace("{loose}", Loose, StringComparison.Ordinal)
            .Replace("{code}", Code, StringComparison.Ordinal).Replace("{data}", Data, StringComparison.Ordinal);
    }

    /// <summary>
    /// Queue A with an agent (registered by the agent-only key) holding item A, launched from the code job p/train; queue
    /// B with an agent and a pending item of the owner's; a run the owner made by hand.
    /// </summary>
    private async Task<World> SetUpAsync()
    {
        using var owner = server.Client();
        using var http = server.Http(server.AdminKey);
        using var files = new TempDirectory();
        var code = await RunKeyWorld.UploadAsync(owner, files.Path, "p", "code", "code", "train.py", "print('hi')\n");
        var data = await RunKeyWorld.UploadAsync(owner, files.Path, "p", "data", "dataset", "rows.csv", "a,b\n");
        await RunKeyWorld.CreateCodeJobAsync(http, "p", "train", "code:v0");
        var (queueA, queueB) = ("qa" + Guid.NewGuid().ToString("N")[..8], "qb" + Guid.NewGuid().ToString("N")[..8]);
        await owner.CreateQueueAsync(new CreateQueueRequest(queueA, "local-process"));
        await owner.CreateQueueAsync(new CreateQueueRequest(queueB, "local-process"));
        var key = (await owner.CreateKeyAsync(new CreateKeyRequest("agent", true, [queueA]))).Key;
        using var agentClient = server.Client(key);
        var agentA = await agentClient.RegisterAgentAsync(new RegisterAgentRequest("a", [queueA]));
        var agentB = await owner.RegisterAgentAsync(new RegisterAgentRequest("b", [queueB]));
        await owner.EnqueueAsync(queueA, new EnqueueRequest("train", "p"));
        var itemB = await owner.EnqueueAsync(queueB, new EnqueueRequest("train", "p"));
        var claim = await agentClient.ClaimAsync(agentA.Id, TimeSpan.FromSeconds(5)) ?? throw new InvalidOperationException("nothing to claim");
        var loose = await owner.InitRunAsync(new InitRunRequest("p"));
        return new World(key, queueA, queueB, agentA.Id, agentB.Id, claim.Item.Id, itemB.Id, claim.Spec.RunId, loose.Id, code.Files![0].Sha256, data.Files![0].Sha256);
    }
}
