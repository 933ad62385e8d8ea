using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Wandb;

/// <summary>
/// The request shapes of the Python wandb client (0.19–0.28, Go core) as the wire reference
/// (shared/reference/wandb-wire-protocol.md) records them: the operations it sends, with the fields it decodes.
/// </summary>
internal static class PythonClient
{
    public const string UpsertBucket = """
        mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String, $groupName: String,
            $description: String, $displayName: String, $notes: String, $commit: String, $config: JSONString,
            $host: String, $debug: Boolean, $program: String, $repo: String, $jobType: String, $state: String,
            $sweep: String, $tags: [String!], $summaryMetrics: JSONString) {
          upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity,
              description: $description, displayName: $displayName, notes: $notes, config: $config, commit: $commit,
              host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo, jobType: $jobType, state: $state,
              sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics}) {
            bucket { id name displayName description config sweepName project { id name entity { id name } } historyLineCount }
            inserted
          }
        }
        """;

    public const string Viewer = "query Viewer { viewer { id entity username email flags teams { edges { node { name } } } } }";

    public const string ServerInfo = """
        query ServerInfo { serverInfo { cliVersionInfo latestLocalVersionInfo { outOfDate latestVersionString versionOnThisInstanceString } } }
        """;

    public const string ServerFeatures = "query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }";

    public const string Organization = "query OrganizationCoreWeaveOrganizationID($entityName: String!) { entity(name: $entityName) { organization { coreWeaveOrganizationId } } }";

    public const string RunStoppedStatus = """
        query RunStoppedStatus($entityName: String, $projectName: String, $runId: String!) {
          project(name: $projectName, entityName: $entityName) { run(name: $runId) { stopped } }
        }
        """;

    public const string RunResumeStatus = """
        query RunResumeStatus($project: String, $entity: String, $name: String!) {
          model(name: $project, entityName: $entity) {
            id name entity { id name }
            bucket(name: $name, missingOk: true) {
              id name summaryMetrics displayName logLineCount historyLineCount eventsLineCount historyTail eventsTail
              config tags wandbConfig(keys: ["t"]) runInfo { args }
            }
          }
        }
        """;

    public const string CreateRunFiles = """
        mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
          createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
            runID uploadHeaders files { name uploadUrl }
          }
        }
        """;

    /// <summary>What the Python client's config looks like on the wire: each key wrapped, the client's section beside.</summary>
    public static string WrappedConfig(string userKeysJson) => "{" + userKeysJson + (userKeysJson.Length > 0 ? "," : "") + WandbSection + "}";

    private const string WandbSection = """
        "_wandb":{"desc":null,"value":{"python_version":"3.11.7","cli_version":"0.19.0","t":{"1":[1,55],"3":[16]}}}
        """;
}

/// <summary>A client speaking the wandb wire to the test server: HTTP Basic <c>api:KEY</c>, JSON bodies.</summary>
internal sealed class WandbWire : IDisposable
{
    private readonly HttpClient _http;
    private string? _entity;

    public WandbWire(ServerFixture server, string key)
    {
        _http = server.Http();
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("api:" + key)));
    }

    public HttpClient Http => _http;

    public Task<HttpResponseMessage> PostGraphqlAsync(string query, JsonObject? variables = null) =>
        _http.PostAsync("/graphql", Json(new JsonObject { ["query"] = query, ["variables"] = variables ?? [] }));

    /// <summary>The whole response (data and errors) of a request answered 200.</summary>
    public async Task<JsonElement> GraphqlAsync(string query, JsonObject? variables = null) =>
        await ReadAsync(await PostGraphqlAsync(query, variables), HttpStatusCode.OK);

    /// <summary>The data of a request that must succeed without errors.</summary>
    public async Task<JsonElement> DataAsync(string query, JsonObject? variables = null)
    {
        var response = await GraphqlAsync(query, variables);
        Assert.False(response.TryGetProperty("errors", out var errors), errors.ToString());
        return response.GetProperty("data");
    }

    /// <summary>An upsertBucket as the Python client sends it; returns the bucket.</summary>
    public async Task<JsonElement> UpsertAsync(string id, string? project = "p", string? config = null, string? displayName = null, string? host = null, string? program = null, string? summary = null)
    {
        var data = await DataAsync(PythonClient.UpsertBucket, new JsonObject
        {
            ["name"] = id, ["project"] = project, ["entity"] = null, ["config"] = config, ["displayName"] = displayName,
            ["host"] = host, ["program"] = program, ["summaryMetrics"] = summary,
        });
        return data.GetProperty("upsertBucket").GetProperty("bucket");
    }

    /// <summary>A file_stream request under <paramref name="entity"/>'s path, by default the key's (the viewer's entity, as the clients use).</summary>
    public async Task<HttpResponseMessage> PostFileStreamAsync(string run, string body, string? entity = null, string project = "p")
    {
        entity ??= _entity ??= (await DataAsync(PythonClient.Viewer)).GetProperty("viewer").GetProperty("entity").GetString()!;
        return await _http.PostAsync($"/files/{entity}/{project}/{run}/file_stream", new StringContent(body, Encoding.UTF8, "application/json"));
    }

    /// <summary>Posts a file_stream request that must be answered 200; returns the answer.</summary>
    public async Task<JsonElement> FileStreamAsync(string run, string body) => await ReadAsync(await PostFileStreamAsync(run, body), HttpStatusCode.OK);

    public void Dispose() => _http.Dispose();

    /// <summary>A file_stream body carrying one file's lines at an offset, as the clients build them.</summary>
    public static string Files(params (string File, long Offset, string[] Lines)[] files)
    {
        var body = new JsonObject();
        foreach (var (file, offset, lines) in files)
        {
            body[file] = new JsonObject { ["offset"] = offset, ["content"] = new JsonArray([.. lines.Select(l => (JsonNode?)l)]) };
        }

        return new JsonObject { ["files"] = body }.ToJsonString();
    }

    public static string NewRunId() => "w" + Guid.NewGuid().ToString("N")[..11];

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");
}
