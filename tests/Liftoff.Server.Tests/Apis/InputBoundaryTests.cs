using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Wandb;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>Input JSON allows but nothing can keep, the size of every field, and the references a launch may name.</summary>
public sealed class InputBoundaryTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string LoneSurrogate = "\\ud800";

    [Theory]
    [InlineData("POST", "/api/v1/runs", """{"project":"p","config":{"x":{"y":["ok","\udc00"]}}}""", "config.x.y[1]")]
    [InlineData("POST", "/api/v1/runs", """{"project":"p","name":"a\ud800b"}""", "name")]
    [InlineData("PATCH", "/api/v1/runs/{run}", """{"config":{"a":"\ud800"}}""", "config.a")]
    [InlineData("PATCH", "/api/v1/runs/{run}", """{"summary":{"big":1e400}}""", "summary.big")]
    [InlineData("PATCH", "/api/v1/runs/{run}", """{"config":{"a":"x\u0000y"}}""", "config.a")]
    [InlineData("POST", "/api/v1/runs", """{"project":"p","name":"a\u0000b"}""", "name")]
    [InlineData("POST", "/api/v1/runs/{run}/history", """{"rows":[{"step":0,"values":{"a":"\ud800"}}]}""", "rows[0].values.a")]
    [InlineData("POST", "/api/v1/runs/{run}/history", """{"rows":[{"step":0,"values":{}},null]}""", "rows[1]")]
    [InlineData("POST", "/api/v1/queues", """{"name":"q1","resource":"local-process","config":{"env":{"A":"\ud800"}}}""", "config.env.A")]
    [InlineData("POST", "/api/v1/queues", """{"name":"q2","resource":"local-process","template_variables":[{"name":"g","type":"integer","min":1,"max":1e400}]}""", "template_variables[0].max")]
    [InlineData("POST", "/api/v1/queues/q/items", """{"job":"train","project":"p","resource_args":{"env":{"B":"\ud800"}}}""", "resource_args.env.B")]
    [InlineData("POST", "/api/v1/queues/q/dry-run", """{"job":"train","project":"p","config":{"lr":"\ud800"}}""", "config.lr")]
    [InlineData("POST", "/api/v1/jobs", """{"project":"p","name":"img","definition":{"source_type":"image","source":{"image":"\ud800"},"entrypoint":["x"]}}""", "definition.source.image")]
    [InlineData("POST", "/graphql", """{"query":"mutation { upsertBucket(input: {name: \"x\"}) { bucket { id } } }","variables":{"config":"\ud800"}}""", "variables.config")]
    public async Task Request_HoldingWhatCannotBeKept_Is400NamingTheFieldAndStoresNothing(string method, string path, string body, string field)
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        var run = await InitRunAsync(http, """{"project":"p","config":{"kept":1}}""");
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process"}""")).JsonAsync(HttpStatusCode.Created);
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{run}", run, StringComparison.Ordinal))
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        if (path == "/graphql")
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("api:" + key)));
        }

        var problem = await (await http.SendAsync(request)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        var runs = await (await http.GetAsync("/api/v1/runs?project=p")).JsonAsync();
        var only = Assert.Single(runs.GetProperty("runs").EnumerateArray());
        Assert.Equal("""{"kept":1}""", only.GetProperty("config").GetRawText());
        Assert.Equal("{}", only.GetProperty("summary").GetRawText());
        Assert.Empty((await (await http.GetAsync($"/api/v1/runs/{run}/history")).JsonAsync()).GetProperty("rows").EnumerateArray());
        Assert.Single((await (await http.GetAsync("/api/v1/queues")).JsonAsync()).GetProperty("queues").EnumerateArray());
        Assert.Empty((await (await http.GetAsync("/api/v1/queues/q/items")).JsonAsync()).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task AppendLogs_ALinePrintingNul_IsKeptWithTheReplacementCharacter()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        var run = await InitRunAsync(http, """{"project":"p"}""");

        await (await http.PostJsonAsync($"/api/v1/runs/{run}/logs", """{"offset":0,"lines":[{"stream":"stdout","text":"a\u0000b"}]}""")).JsonAsync();

        var body = await (await http.GetAsync($"/api/v1/runs/{run}/logs")).Content.ReadAsStringAsync();
        var line = JsonDocument.Parse(body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single()).RootElement;
        Assert.Equal("a\ufffdb", line.GetProperty("text").GetString());
    }

    [Fact]
    public async Task WandbUpsert_ConfigJsonStringHoldingALoneSurrogate_IsAnErrorNamingConfigAndStoresNothing()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        var id = WandbWire.NewRunId();

        var response = await wandb.GraphqlAsync(PythonClient.UpsertBucket, new JsonObject { ["name"] = id, ["project"] = "p", ["config"] = "{\"a\":\"" + LoneSurrogate + "\"}" });

        Assert.Contains("config.a", response.GetProperty("errors")[0].GetProperty("message").GetString(), StringComparison.Ordinal);
        using var http = server.Http(key);
        await (await http.GetAsync($"/api/v1/runs/{id}")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Enqueue_EnvValueOver128KiB_IsRefusedAtEnqueueNamingTheVariableAndItsSize()
    {
        var (http, _) = await QueueAsync("local-process");
        var big = new string('x', 200 * 1024);

        var problem = await (await http.PostJsonAsync("/api/v1/queues/q/items", """{"job":"train","project":"p","resource_args":{"env":{"BIG":""" + "\"" + big + "\"}}}")).ProblemAsync(HttpStatusCode.BadRequest);

        var message = problem.GetProperty("errors").GetProperty("resource_args.env.BIG")[0].GetString()!;
        Assert.Contains("204804 bytes", message, StringComparison.Ordinal);
        Assert.Empty((await (await http.GetAsync("/api/v1/queues/q/items")).JsonAsync()).GetProperty("items").EnumerateArray());
        http.Dispose();
    }

    [Fact]
    public async Task PatchRun_ConfigOverTheLimit_IsRefusedNamingItsSize()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var run = await InitRunAsync(http, """{"project":"p"}""");
        var big = new string('x', 1 << 20);

        var problem = await (await http.PatchAsync($"/api/v1/runs/{run}", new StringContent($$$"""{"config":{"a":"{{{big}}}"}}""", System.Text.Encoding.UTF8, "application/json"))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Contains("1048584 bytes", problem.GetProperty("errors").GetProperty("config")[0].GetString()!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enqueue_IdempotencyKeyReusedWithADifferentBody_Is409NamingTheKey_AndTheSameBodyStillGetsTheFirstItem()
    {
        var (http, _) = await QueueAsync("local-process");
        const string body = """{"job":"train","project":"p","idempotency_key":"retry-7","config":{"lr":0.1}}""";

        var first = await (await http.PostJsonAsync("/api/v1/queues/q/items", body)).JsonAsync(HttpStatusCode.Created);
        var conflict = await (await http.PostJsonAsync("/api/v1/queues/q/items", body.Replace("0.1", "0.2", StringComparison.Ordinal))).ProblemAsync(HttpStatusCode.Conflict);
        var again = await (await http.PostJsonAsync("/api/v1/queues/q/items", body)).JsonAsync(HttpStatusCode.OK);

        Assert.Contains("'retry-7'", conflict.Detail(), StringComparison.Ordinal);
        Assert.Equal(first.GetProperty("id").GetString(), again.GetProperty("id").GetString());
        Assert.Single((await (await http.GetAsync("/api/v1/queues/q/items")).JsonAsync()).GetProperty("items").EnumerateArray());
        http.Dispose();
    }

    [Fact]
    public async Task AgentHeartbeat_NegativeRunningItems_Is400NamingTheField()
    {
        var (http, _) = await QueueAsync("local-process");
        var agent = await (await http.PostJsonAsync("/api/v1/agents", """{"name":"a","queues":["q"]}""")).JsonAsync(HttpStatusCode.Created);
        var id = agent.GetProperty("id").GetString();

        var problem = await (await http.PostJsonAsync($"/api/v1/agents/{id}/heartbeat", """{"state":"running","running_items":-5}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("running_items", out _), problem.GetRawText());
        var listed = (await (await http.GetAsync("/api/v1/agents")).JsonAsync()).GetProperty("agents")[0];
        Assert.Equal(0, listed.GetProperty("running_items").GetInt32());
        http.Dispose();
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("../../x")]
    [InlineData("-v")]
    [InlineData("Upper/Case")]
    [InlineData("ghcr.io/org/train:")]
    [InlineData("train@sha256:abc")]
    public async Task CreateJob_ImageThatBreaksTheReferenceGrammar_Is400NamingTheImage(string image)
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        var problem = await (await http.PostJsonAsync("/api/v1/jobs", $$$"""{"project":"p","name":"img","definition":{"source_type":"image","source":{"image":"{{{image}}}"},"entrypoint":["x"]}}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").EnumerateObject().Any(e => e.Name.EndsWith("source.image", StringComparison.Ordinal)), problem.GetRawText());
    }

    [Theory]
    [InlineData("localhost:5000/team/train:1.2")]
    [InlineData("train")]
    [InlineData("ghcr.io/org/train@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("[::1]:5000/x_y.z-w:v1")]
    public async Task CreateJob_ImageInTheReferenceGrammar_IsAccepted(string image)
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        await (await http.PostJsonAsync("/api/v1/jobs", $$$"""{"project":"p","name":"img","definition":{"source_type":"image","source":{"image":"{{{image}}}"},"entrypoint":["x"]}}""")).JsonAsync(HttpStatusCode.Created);
    }

    [Theory]
    [InlineData("./data:/data")]
    [InlineData("~/secrets:/s")]
    [InlineData("..:/up")]
    [InlineData("data/sub:/d")]
    public async Task CreateDockerQueue_VolumeSourceRelativeOrHome_Is400NamingVolumes(string volume)
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        var problem = await (await http.PostJsonAsync("/api/v1/queues", $$$"""{"name":"d","resource":"docker","config":{"volumes":["{{{volume}}}"]}}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("config.volumes[0]", out _), problem.GetRawText());
    }

    [Fact]
    public async Task CreateDockerQueue_NamedVolumeAndAbsoluteHostPath_AreAccepted()
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"d","resource":"docker","config":{"volumes":["cache:/cache","/srv/data:/data:ro"]}}""")).JsonAsync(HttpStatusCode.Created);
    }

    private async Task<(HttpClient Http, string Key)> QueueAsync(string resource)
    {
        var key = await server.NewUserKeyAsync();
        var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", $$$"""{"name":"q","resource":"{{{resource}}}"}""")).JsonAsync(HttpStatusCode.Created);
        return (http, key);
    }

    private static async Task<string> InitRunAsync(HttpClient http, string body) =>
        (await (await http.PostJsonAsync("/api/v1/runs", body)).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;
}
