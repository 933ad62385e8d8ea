using System.Net;
using Liftoff.Server.Tests.Apis;
using Liftoff.Server.Tests.Artifacts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Jobs;

public sealed class JobsApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";

    [Fact]
    public async Task CreateJob_CodeJobOnAnAlias_PinsTheVersionAndInfersTheSchemaFromDefaults()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var code = ArtifactsApiContract.Content("print('hi')");
        await ArtifactsApiContract.PutAsync(http, code);
        await (await http.PostJsonAsync("/api/v1/artifacts/p/train-code", ArtifactsApiContract.Commit("code", ArtifactsApiContract.Manifest(("train.py", code))))).JsonAsync(HttpStatusCode.Created);

        var job = await (await http.PostJsonAsync("/api/v1/jobs", """
            {"project":"p","name":"train","definition":{"source_type":"artifact","source":{"artifact":"train-code:latest"},"entrypoint":["python","train.py"]},
             "config_defaults":{"lr":0.001,"epochs":3,"model":{"depth":2}}}
            """)).JsonAsync(HttpStatusCode.Created);

        var definition = job.GetProperty("definition");
        Assert.Equal("train-code:v0", definition.GetProperty("source").GetProperty("artifact").GetString());
        Assert.Equal(64, definition.GetProperty("source").GetProperty("digest").GetString()!.Length);
        var properties = definition.GetProperty("input_types").GetProperty("properties");
        Assert.Equal("number", properties.GetProperty("lr").GetProperty("type").GetString());
        Assert.Equal("integer", properties.GetProperty("epochs").GetProperty("type").GetString());
        Assert.Equal(2, properties.GetProperty("model").GetProperty("properties").GetProperty("depth").GetProperty("default").GetInt32());
        Assert.Equal("job", job.GetProperty("artifact").GetProperty("type").GetString());
    }

    [Fact]
    public async Task CreateJob_SameDefinitionTwice_IsTheSameVersion()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var body = """{"project":"p","name":"img","definition":{"source_type":"image","source":{"image":"ghcr.io/org/train:1"},"entrypoint":["python","-m","train"]}}""";

        var first = await (await http.PostJsonAsync("/api/v1/jobs", body)).JsonAsync(HttpStatusCode.Created);
        var second = await (await http.PostJsonAsync("/api/v1/jobs", body)).JsonAsync();
        var changed = await (await http.PostJsonAsync("/api/v1/jobs", body.Replace("train:1", "train:2", StringComparison.Ordinal))).JsonAsync(HttpStatusCode.Created);

        Assert.Equal("v0", first.GetProperty("artifact").GetProperty("version").GetString());
        Assert.Equal("v0", second.GetProperty("artifact").GetProperty("version").GetString());
        Assert.Equal("v1", changed.GetProperty("artifact").GetProperty("version").GetString());
    }

    [Theory]
    [InlineData("""{"source_type":"repo","source":{"remote":"https://h/r.git","commit":"COMMIT"}}""", "definition.entrypoint")]
    [InlineData("""{"source_type":"ftp","source":{},"entrypoint":["x"]}""", "definition.source_type")]
    [InlineData("""{"source":{},"entrypoint":["x"]}""", "definition.source_type")]
    [InlineData("""{"source_type":"repo","source":{"remote":"https://h/r.git","commit":"main"},"entrypoint":["x"]}""", "definition.source.commit")]
    [InlineData("""{"source_type":"repo","source":{"remote":"https://h/r.git","commit":"COMMIT","subdir":"../up"},"entrypoint":["x"]}""", "definition.source.subdir")]
    [InlineData("""{"source_type":"image","source":{"image":"a b"},"entrypoint":["x"]}""", "definition.source.image")]
    [InlineData("""{"source_type":"image","source":{"image":"i"},"entrypoint":["x"],"input_types":{"type":"object","properties":{"lr":{"type":"float"}}}}""", "definition.input_types.properties.lr.type")]
    [InlineData("""{"source_type":"image","source":{"image":"i"},"entrypoint":["x"],"input_types":{"type":"object","properties":{"lr":{"type":"number","default":"fast"}}}}""", "definition.input_types.properties.lr.default")]
    [InlineData("""{"source_type":"image","source":{"image":"i"},"entrypoint":["x"],"input_types":{"type":"object","anyOf":[]}}""", "definition.input_types.anyOf")]
    [InlineData("""{"source_type":"image","source":{"image":"i"},"entrypoint":["x"],"input_types":{"type":"array"}}""", "definition.input_types.type")]
    [InlineData("""{"source_type":"image","source":{"image":"i"},"entrypoint":[]}""", "definition.entrypoint")]
    [InlineData("""{"source_type":"artifact","source":{"artifact":"nope:v0"},"entrypoint":["x"]}""", "definition.source.artifact")]
    public async Task CreateJob_BadDefinition_Is400NamingTheFieldAndStoresNothing(string definition, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var body = $$$"""{"project":"p","name":"bad","definition":{{{definition.Replace("COMMIT", Commit, StringComparison.Ordinal)}}}}""";

        var problem = await (await http.PostJsonAsync("/api/v1/jobs", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Equal(0, (await (await http.GetAsync("/api/v1/jobs")).JsonAsync()).GetProperty("jobs").GetArrayLength());
    }

    [Theory]
    [InlineData("file:///srv/repos/secret.git")]
    [InlineData("/srv/repos/secret.git")]
    [InlineData("./secret")]
    [InlineData("../secret")]
    [InlineData("secret")]
    [InlineData("~/secret.git")]
    [InlineData("fd::17")]
    [InlineData("ext::sh -c touch% /tmp/pwned")]
    [InlineData("ext::sh")]
    [InlineData("ssh://-oProxyCommand=touch%20pwned/repo")]
    [InlineData("ssh://-oProxyCommand=x@host/repo")]
    [InlineData("-uhttps://h/r.git")]
    [InlineData("--upload-pack=touch pwned")]
    [InlineData("git@-oProxyCommand=x:repo")]
    [InlineData("-u@host:repo")]
    [InlineData("user@host::repo")]
    [InlineData("git://h/r.git")]
    [InlineData("ftp://h/r.git")]
    [InlineData("http::https://h/r.git")]
    [InlineData("C:/repos/x")]
    public async Task CreateJob_RemoteOnTheAgentsMachineOrRunningACommand_Is400NamingTheRemote(string remote)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var body = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["project"] = "p",
            ["name"] = "local",
            ["definition"] = new Dictionary<string, object>
            {
                ["source_type"] = "repo",
                ["source"] = new Dictionary<string, string> { ["remote"] = remote, ["commit"] = Commit },
                ["entrypoint"] = new[] { "python", "train.py" },
            },
        });

        var problem = await (await http.PostJsonAsync("/api/v1/jobs", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("definition.source.remote", out var errors), problem.GetRawText());
        Assert.Contains("agent's own machine", errors[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await (await http.GetAsync("/api/v1/jobs")).JsonAsync()).GetProperty("jobs").GetArrayLength());
    }

    [Theory]
    [InlineData("https://github.com/org/repo.git")]
    [InlineData("http://127.0.0.1:8080/org/repo")]
    [InlineData("ssh://git@github.com:22/org/repo.git")]
    [InlineData("ssh://[::1]/repo")]
    [InlineData("git@github.com:org/repo.git")]
    [InlineData("deploy.bot@git.internal.example:ml/trainer")]
    public async Task CreateJob_RemoteOnAnotherMachine_IsAccepted(string remote)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var body = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["project"] = "p",
            ["name"] = "remote",
            ["definition"] = new Dictionary<string, object>
            {
                ["source_type"] = "repo",
                ["source"] = new Dictionary<string, string> { ["remote"] = remote, ["commit"] = Commit },
                ["entrypoint"] = new[] { "python", "train.py" },
            },
        });

        var job = await (await http.PostJsonAsync("/api/v1/jobs", body)).JsonAsync(HttpStatusCode.Created);

        Assert.Equal(remote, job.GetProperty("definition").GetProperty("source").GetProperty("remote").GetString());
    }

    [Fact]
    public async Task CreateJob_RemoteWithCredentials_StoresAndReturnsItWithout()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var body = $$$"""{"project":"p","name":"git","definition":{"source_type":"repo","source":{"remote":"https://alice:s3cr3t-t0ken@git.example/org/repo.git","commit":"{{{Commit}}}","subdir":"train"},"entrypoint":["python","main.py"]}}""";

        var created = await (await http.PostJsonAsync("/api/v1/jobs", body)).Content.ReadAsStringAsync();
        var described = await (await http.GetAsync("/api/v1/jobs/p/git")).Content.ReadAsStringAsync();

        Assert.DoesNotContain("s3cr3t", created, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", described, StringComparison.Ordinal);
        Assert.Contains("https://git.example/org/repo.git", described, StringComparison.Ordinal);
        foreach (var file in Directory.GetFiles(server.DataDirectory, "*", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            Assert.True(copy.ToArray().AsSpan().IndexOf("s3cr3t"u8) < 0, $"{file} holds the token");
        }
    }

    [Fact]
    public async Task DescribeJob_ShowsVersionsAliasesSchemaAndAnEmptyRunList()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        await (await http.PostJsonAsync("/api/v1/jobs", """{"project":"p","name":"d","aliases":["stable"],"definition":{"source_type":"image","source":{"image":"i:1"},"entrypoint":["run"],"input_types":{"type":"object","properties":{"n":{"type":"integer","minimum":1,"default":2}}}}}""")).JsonAsync(HttpStatusCode.Created);
        await (await http.PostJsonAsync("/api/v1/jobs", """{"project":"p","name":"d","definition":{"source_type":"image","source":{"image":"i:2"},"entrypoint":["run"]}}""")).JsonAsync(HttpStatusCode.Created);

        var latest = await (await http.GetAsync("/api/v1/jobs/p/d")).JsonAsync();
        var stable = await (await http.GetAsync("/api/v1/jobs/p/d?ref=stable")).JsonAsync();
        await (await http.GetAsync("/api/v1/jobs/p/nope")).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal(["v1", "v0"], latest.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        Assert.Equal("""{"type":"object"}""", latest.GetProperty("selected").GetProperty("definition").GetProperty("input_types").GetRawText());
        Assert.Equal(1, stable.GetProperty("selected").GetProperty("definition").GetProperty("input_types").GetProperty("properties").GetProperty("n").GetProperty("minimum").GetInt32());
        Assert.Equal(["stable"], stable.GetProperty("selected").GetProperty("artifact").GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(0, latest.GetProperty("runs").GetArrayLength());
        var list = await (await http.GetAsync("/api/v1/jobs?project=p")).JsonAsync();
        Assert.Equal(["d"], list.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("name").GetString()));
    }
}
