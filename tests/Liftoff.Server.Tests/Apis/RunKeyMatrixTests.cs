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
/// The table of docs/api.md ("What a run's key may do"): every endpoint the server maps, called with the owner's key,
/// the key of the run whose resources the path names (run A, launched into project p from the code job p/train), and
/// the key of another run (run B, launched into project p2). An endpoint without a row fails the test: whoever adds
/// one decides what launched code may do with it.
/// </summary>
public sealed class RunKeyMatrixTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const int Ok = 200, Created = 201, NoContent = 204, Bad = 400, Forbidden = 403, Missing = 404;

    /// <summary>Method and route pattern, the request (placeholders in braces are filled in), then user, own run, other run.</summary>
    private static readonly (string Endpoint, string Path, string? Body, int User, int Own, int Other)[] Rows =
    [
        ("GET /healthz", "/healthz", null, Ok, Ok, Ok),
        ("GET /metrics", "/metrics", null, Ok, Forbidden, Forbidden),
        ("GET /api/v1/audit/", "/api/v1/audit/", null, Ok, Forbidden, Forbidden),
        ("GET /openapi/{documentName}.json", "/openapi/v1.json", null, Ok, Ok, Ok),

        ("GET /api/v1/viewer", "/api/v1/viewer", null, Ok, Ok, Ok),
        ("POST /api/v1/users", "/api/v1/users", "{}", Bad, Forbidden, Forbidden),
        ("POST /api/v1/keys", "/api/v1/keys", """{"name":"matrix"}""", Created, Forbidden, Forbidden),
        ("GET /api/v1/keys", "/api/v1/keys", null, Ok, Forbidden, Forbidden),
        ("DELETE /api/v1/keys/{id}", "/api/v1/keys/key_none", null, Missing, Forbidden, Forbidden),
        ("GET /api/v1/projects/", "/api/v1/projects/", null, Ok, Forbidden, Forbidden),
        ("PUT /api/v1/viewer/default-entity", "/api/v1/viewer/default-entity", """{"entity":null}""", Ok, Forbidden, Forbidden),

        ("POST /api/v1/teams/", "/api/v1/teams/", "{}", Bad, Forbidden, Forbidden),
        ("GET /api/v1/teams/", "/api/v1/teams/", null, Ok, Forbidden, Forbidden),
        ("GET /api/v1/teams/{name}", "/api/v1/teams/none", null, Missing, Forbidden, Forbidden),
        ("PUT /api/v1/teams/{name}/members/{user}", "/api/v1/teams/none/members/none", """{"role":"member"}""", Missing, Forbidden, Forbidden),
        ("DELETE /api/v1/teams/{name}/members/{user}", "/api/v1/teams/none/members/none", null, Missing, Forbidden, Forbidden),
        ("POST /api/v1/teams/{team}/service-accounts/", "/api/v1/teams/none/service-accounts/", """{"name":"ci"}""", Missing, Forbidden, Forbidden),
        ("GET /api/v1/teams/{team}/service-accounts/", "/api/v1/teams/none/service-accounts/", null, Missing, Forbidden, Forbidden),
        ("DELETE /api/v1/teams/{team}/service-accounts/{account}", "/api/v1/teams/none/service-accounts/none", null, Missing, Forbidden, Forbidden),
        ("POST /api/v1/teams/{team}/service-accounts/{account}/keys", "/api/v1/teams/none/service-accounts/none/keys", "{}", Missing, Forbidden, Forbidden),
        ("GET /api/v1/teams/{team}/service-accounts/{account}/keys", "/api/v1/teams/none/service-accounts/none/keys", null, Missing, Forbidden, Forbidden),
        ("DELETE /api/v1/teams/{team}/service-accounts/{account}/keys/{id}", "/api/v1/teams/none/service-accounts/none/keys/key_none", null, Missing, Forbidden, Forbidden),

        ("POST /api/v1/runs/", "/api/v1/runs/", """{"project":"p","id":"by-the-owner"}""", Created, Forbidden, Forbidden),
        ("GET /api/v1/runs/", "/api/v1/runs/", null, Ok, Forbidden, Forbidden),
        ("GET /api/v1/runs/{id}", "/api/v1/runs/{A}", null, Ok, Ok, Forbidden),
        ("PATCH /api/v1/runs/{id}", "/api/v1/runs/{A}", """{"summary":{"acc":1}}""", Ok, Ok, Forbidden),
        ("POST /api/v1/runs/{id}/history", "/api/v1/runs/{A}/history", "{}", Bad, Bad, Forbidden),
        ("GET /api/v1/runs/{id}/history", "/api/v1/runs/{A}/history", null, Ok, Ok, Forbidden),
        ("POST /api/v1/runs/{id}/logs", "/api/v1/runs/{A}/logs", "{}", Bad, Bad, Forbidden),
        ("GET /api/v1/runs/{id}/logs", "/api/v1/runs/{A}/logs", null, Ok, Ok, Forbidden),
        ("POST /api/v1/runs/{id}/heartbeat", "/api/v1/runs/{A}/heartbeat", null, Ok, Ok, Forbidden),
        ("POST /api/v1/runs/{id}/finish", "/api/v1/runs/{A}/finish", """{"exit_code":"zero"}""", Bad, Bad, Forbidden),
        ("POST /api/v1/runs/{id}/stop", "/api/v1/runs/{A}/stop", null, Ok, Ok, Forbidden),
        ("GET /api/v1/runs/{id}/artifacts/", "/api/v1/runs/{A}/artifacts/", null, Ok, Ok, Forbidden),
        ("POST /api/v1/runs/{id}/artifacts/used", "/api/v1/runs/{A}/artifacts/used", """{"artifact":"data:v0"}""", Ok, Ok, Forbidden),

        ("GET /api/v1/secrets/", "/api/v1/secrets/", null, Ok, Forbidden, Forbidden),
        ("PUT /api/v1/secrets/{name}", "/api/v1/secrets/MATRIX_TOKEN", """{"value":"v"}""", Ok, Forbidden, Forbidden),
        ("DELETE /api/v1/secrets/{name}", "/api/v1/secrets/NONE", null, Missing, Forbidden, Forbidden),

        ("POST /api/v1/queues/", "/api/v1/queues/", "{}", Bad, Forbidden, Forbidden),
        ("GET /api/v1/queues/", "/api/v1/queues/", null, Ok, Forbidden, Forbidden),
        ("GET /api/v1/queues/{name}", "/api/v1/queues/{queue}", null, Ok, Forbidden, Forbidden),
        ("PUT /api/v1/queues/{name}", "/api/v1/queues/none", """{"name":"none","resource":"docker"}""", Missing, Forbidden, Forbidden),
        ("DELETE /api/v1/queues/{name}", "/api/v1/queues/none", null, Missing, Forbidden, Forbidden),
        ("POST /api/v1/queues/{name}/items", "/api/v1/queues/{queue}/items", "{}", Bad, Forbidden, Forbidden),
        ("POST /api/v1/queues/{name}/dry-run", "/api/v1/queues/{queue}/dry-run", "{}", Bad, Forbidden, Forbidden),
        ("GET /api/v1/queues/{name}/items", "/api/v1/queues/{queue}/items", null, Ok, Forbidden, Forbidden),

        ("GET /api/v1/items/{id}", "/api/v1/items/{item}", null, Ok, Forbidden, Forbidden),
        ("GET /api/v1/items/{id}/history", "/api/v1/items/{item}/history", null, Ok, Forbidden, Forbidden),
        ("POST /api/v1/items/{id}/cancel", "/api/v1/items/item_none/cancel", null, Missing, Forbidden, Forbidden),
        ("POST /api/v1/items/{id}/heartbeat", "/api/v1/items/item_none/heartbeat", """{"attempt":1}""", Missing, Forbidden, Forbidden),
        ("POST /api/v1/items/{id}/progress", "/api/v1/items/item_none/progress", """{"attempt":1,"state":"running"}""", Missing, Forbidden, Forbidden),
        ("POST /api/v1/items/{id}/release", "/api/v1/items/item_none/release", """{"attempt":1}""", Bad, Forbidden, Forbidden),

        ("POST /api/v1/agents/", "/api/v1/agents/", "{}", Bad, Forbidden, Forbidden),
        ("GET /api/v1/agents/", "/api/v1/agents/", null, Ok, Forbidden, Forbidden),
        ("POST /api/v1/agents/{id}/heartbeat", "/api/v1/agents/agent_none/heartbeat", "{}", Bad, Forbidden, Forbidden),
        ("POST /api/v1/agents/{id}/stop", "/api/v1/agents/agent_none/stop", null, Missing, Forbidden, Forbidden),
        ("POST /api/v1/agents/{id}/claim", "/api/v1/agents/agent_none/claim", "{}", Missing, Forbidden, Forbidden),

        ("POST /api/v1/blobs/check", "/api/v1/blobs/check", """{"files":[{"path":"a","size":1,"sha256":"{code}"}]}""", Ok, Ok, Ok),
        ("POST /api/v1/blobs/uploads", "/api/v1/blobs/uploads", """{"blobs":[{"sha256":"{code}","size":1}]}""", Ok, Ok, Ok),
        ("PUT /api/v1/blobs/{sha256}", "/api/v1/blobs/not-a-digest", "{}", Bad, Bad, Bad),
        ("POST /api/v1/blobs/{sha256}/complete", "/api/v1/blobs/{code}/complete", "{}", Bad, Bad, Bad),
        ("GET /api/v1/blobs/{sha256}", "/api/v1/blobs/{code}", null, Ok, Ok, Forbidden),

        ("GET /api/v1/artifacts/", "/api/v1/artifacts/", null, Ok, Forbidden, Forbidden),
        ("POST /api/v1/artifacts/{project}/{name}", "/api/v1/artifacts/p/made", """{"type":"dataset","files":[{"path":"seed.txt","size":{seedSize},"sha256":"{seed}"}]}""", Created, Ok, Forbidden),
        ("GET /api/v1/artifacts/{project}/{name}", "/api/v1/artifacts/p/data", null, Ok, Forbidden, Forbidden),
        ("GET /api/v1/artifacts/{project}/{name}/{reference}", "/api/v1/artifacts/p/code/v0", null, Ok, Ok, Forbidden),
        ("PUT /api/v1/artifacts/{project}/{name}/aliases/{alias}", "/api/v1/artifacts/p/data/aliases/staging", """{"version":"v0"}""", Ok, Forbidden, Forbidden),

        ("POST /api/v1/jobs/", "/api/v1/jobs/", """{"project":"p","name":"train"}""", Bad, Forbidden, Forbidden),
        ("GET /api/v1/jobs/", "/api/v1/jobs/", null, Ok, Forbidden, Forbidden),
        ("GET /api/v1/jobs/{project}/{name}", "/api/v1/jobs/p/train", null, Ok, Forbidden, Forbidden),

        ("GET /sdk/python/", "/sdk/python/", null, Ok, Ok, Ok),
        ("GET /sdk/python/{file}", "/sdk/python/none.whl", null, Missing, Missing, Missing),
        ("GET /sdk/python/simple/", "/sdk/python/simple/", null, Ok, Ok, Ok),
        ("GET /sdk/python/simple/liftoff/", "/sdk/python/simple/liftoff/", null, Ok, Ok, Ok),

        ("POST /graphql", "/graphql", """{"query":"{ viewer { entity } }"}""", Ok, Ok, Ok),
        ("POST /files/{entity}/{project}/{run}/file_stream", "/files/{entity}/p/{A}/file_stream", """{"files":{}}""", Ok, Ok, Forbidden),

        ("POST /web/session/", "/web/session/", "{}", Bad, Bad, Bad),
        ("GET /web/session/", "/web/session/", null, NoContent, NoContent, NoContent),
        ("DELETE /web/session/", "/web/session/", null, NoContent, Forbidden, Forbidden),
        ("GET /", "/", null, Ok, Ok, Ok),
        ("GET /app/{**path}", "/app/none.js", null, Missing, Missing, Missing),
        ("GET /runs/{id}", "/runs/{A}", null, Ok, Ok, Ok),
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
    public async Task EveryEndpoint_AnswersTheOwnerTheRunAndAnotherRunAsTheTableSays()
    {
        var world = await SetUpAsync();
        var failures = new List<string>();
        foreach (var (endpoint, template, body, user, own, other) in Rows)
        {
            var path = world.Fill(template);
            foreach (var (who, key, expected) in new[] { ("user", server.AdminKey, user), ("own run", world.OwnKey, own), ("other run", world.OtherKey, other) })
            {
                using var http = server.Http(key);
                using var request = new HttpRequestMessage(new HttpMethod(endpoint[..endpoint.IndexOf(' ')]), path);
                if (body is not null)
                {
                    request.Content = new StringContent(world.Fill(body), Encoding.UTF8, "application/json");
                }

                using var response = await http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                if ((int)response.StatusCode != expected)
                {
                    failures.Add($"{endpoint} as {who}: expected {expected}, got {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}");
                }
                else if (expected == Forbidden && key != server.AdminKey)
                {
                    // The refusal says why, as problem details, and never echoes the key it refused.
                    var problem = JsonDocument.Parse(text).RootElement;
                    if (response.Content.Headers.ContentType?.MediaType != "application/problem+json" || !problem.GetProperty("detail").GetString()!.Contains("run's key", StringComparison.Ordinal)
                        || text.Contains(key, StringComparison.Ordinal))
                    {
                        failures.Add($"{endpoint} as {who}: the 403 is not a problem saying a run's key may not do this: {text}");
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private sealed record World(string RunA, string OwnKey, string OtherKey, string ItemA, string Queue, string CodeDigest, string SeedDigest, long SeedSize)
    {
        public string Fill(string template) => template
            .Replace("{A}", RunA, StringComparison.Ordinal).Replace("{item}", ItemA, StringComparison.Ordinal).Replace("{queue}", Queue, StringComparison.Ordinal)
            .Replace("{code}", CodeDigest, StringComparison.Ordinal).Replace("{seed}", SeedDigest, StringComparison.Ordinal)
            .Replace("{seedSize}", SeedSize.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{entity}", "admin", StringComparison.Ordinal);
    }

    /// <summary>Run A launched from the code job p/train, run B from a git job in p2, both attached by their keys.</summary>
    private async Task<World> SetUpAsync()
    {
        using var client = server.Client();
        using var http = server.Http(server.AdminKey);
        using var files = new TempDirectory();
        var code = await RunKeyWorld.UploadAsync(client, files.Path, "p", "code", "code", "train.py", "print('hi')\n");
        await RunKeyWorld.UploadAsync(client, files.Path, "p", "data", "dataset", "rows.csv", "a,b\n", ["prod"]);
        var seed = await RunKeyWorld.UploadAsync(client, files.Path, "p3", "seed", "dataset", "seed.txt", "seed\n");
        await RunKeyWorld.CreateCodeJobAsync(http, "p", "train", "code:v0");
        await TestJobs.CreateRepoJobAsync(http, "p2", "train");
        var (a, b) = await RunKeyWorld.LaunchTwoAsync(server, client, "p", "p2");
        return new World(a.RunId, a.Key, b.Key, a.ItemId, a.Queue, code.Files![0].Sha256, seed.Files![0].Sha256, seed.Files[0].Size);
    }
}

/// <summary>Launched runs and their artifacts, made through the real API.</summary>
internal static class RunKeyWorld
{
    public sealed record Launched(string RunId, string Key, string ItemId, string Project, string Queue);

    public static async Task<ArtifactVersionInfo> UploadAsync(LiftoffClient client, string root, string project, string name, string type, string file, string content, IReadOnlyList<string>? aliases = null)
    {
        var directory = Directory.CreateDirectory(Path.Combine(root, project + "-" + name + "-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, file), content);
        var uploaded = await client.UploadArtifactAsync(directory, project, name, new ArtifactUploadOptions(type) { Aliases = aliases ?? [] });
        return await client.GetArtifactVersionAsync(project, name, uploaded.Version);
    }

    public static async Task CreateCodeJobAsync(HttpClient http, string project, string name, string artifact)
    {
        var body = $$$"""{"project":"{{{project}}}","name":"{{{name}}}","definition":{"source_type":"artifact","source":{"artifact":"{{{artifact}}}"},"entrypoint":["python","train.py"]}}""";
        using var response = await http.PostAsync("/api/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Launches job 'train' of each project on a fresh queue and attaches each run with its own key.</summary>
    public static async Task<(Launched First, Launched Second)> LaunchTwoAsync(ServerFixture server, LiftoffClient client, string first, string second)
    {
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateQueueAsync(new CreateQueueRequest(queue, "local-process"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", [queue]));
        await client.EnqueueAsync(queue, new EnqueueRequest("train", first));
        await client.EnqueueAsync(queue, new EnqueueRequest("train", second));
        var launched = new List<Launched>();
        for (var i = 0; i < 2; i++)
        {
            var claim = await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5)) ?? throw new InvalidOperationException("nothing to claim");
            var key = claim.Spec.Environment["LIFTOFF_API_KEY"];
            using var runClient = server.Client(key);
            await runClient.InitRunAsync(new InitRunRequest(claim.Spec.Project, Id: claim.Spec.RunId));
            launched.Add(new Launched(claim.Spec.RunId, key, claim.Item.Id, claim.Spec.Project, queue));
        }

        return (launched.Single(l => l.Project == first), launched.Single(l => l.Project == second));
    }
}
