using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core.Runs;
using Liftoff.Server.Storage;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Wandb;

/// <summary>The GraphQL operations of the Python client's init and finish, replayed against the real server.</summary>
public sealed class WandbGraphqlTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Upsert_WithValueWrappedConfig_CreatesRunWithUnwrappedConfigAndEveryRequestedField()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        var id = WandbWire.NewRunId();

        var response = await wandb.DataAsync(PythonClient.UpsertBucket, new JsonObject
        {
            ["name"] = id, ["project"] = "mnist", ["entity"] = null, ["host"] = "box", ["program"] = "train.py",
            ["config"] = PythonClient.WrappedConfig("""
                "lr":{"desc":null,"value":0.1},"layers":{"value":[64,32]},"loss":{"value":NaN}
                """),
        });

        var upsert = response.GetProperty("upsertBucket");
        var bucket = upsert.GetProperty("bucket");
        Assert.True(upsert.GetProperty("inserted").GetBoolean());
        Assert.Equal(id, bucket.GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(bucket.GetProperty("displayName").GetString()));
        Assert.Equal(JsonValueKind.Null, bucket.GetProperty("description").ValueKind);
        Assert.Equal(JsonValueKind.Null, bucket.GetProperty("sweepName").ValueKind);
        Assert.Equal(0, bucket.GetProperty("historyLineCount").GetInt32());
        Assert.Equal("mnist", bucket.GetProperty("project").GetProperty("name").GetString());
        var entity = bucket.GetProperty("project").GetProperty("entity");
        Assert.Equal(JsonValueKind.String, bucket.GetProperty("id").ValueKind);
        Assert.Equal(JsonValueKind.String, entity.GetProperty("id").ValueKind);
        Assert.Equal(JsonValueKind.String, bucket.GetProperty("config").ValueKind);
        using var returned = JsonDocument.Parse(bucket.GetProperty("config").GetString()!);
        Assert.Equal(0.1, returned.RootElement.GetProperty("lr").GetProperty("value").GetDouble());

        using var native = server.Http(key);
        var run = await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        Assert.Equal(entity.GetProperty("name").GetString(), run.GetProperty("entity").GetString());
        Assert.Equal("""{"lr":0.1,"layers":[64,32],"loss":"NaN"}""", run.GetProperty("config").GetRawText());
        Assert.Equal("running", run.GetProperty("state").GetString());
        Assert.Equal("3.11.7", run.GetProperty("python_version").GetString());
        Assert.Equal("box", run.GetProperty("host").GetString());
        Assert.Equal("train.py", run.GetProperty("program").GetString());
        Assert.Equal(bucket.GetProperty("displayName").GetString(), run.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Upsert_DebouncedPartialUpdates_LeaveNullFieldsUnchanged()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        var id = WandbWire.NewRunId();
        await wandb.UpsertAsync(id, displayName: "first", host: "box", config: PythonClient.WrappedConfig("""
            "a":{"value":1}
            """));

        var second = await wandb.UpsertAsync(id, project: null, config: PythonClient.WrappedConfig("""
            "b":{"value":2}
            """));
        var third = await wandb.UpsertAsync(id, project: null, displayName: "second", summary: """{"best":0.9}""");

        Assert.Equal("first", second.GetProperty("displayName").GetString());
        Assert.Equal("second", third.GetProperty("displayName").GetString());
        using var native = server.Http(key);
        var run = await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        Assert.Equal("""{"a":1,"b":2}""", run.GetProperty("config").GetRawText());
        Assert.Equal("""{"best":0.9}""", run.GetProperty("summary").GetRawText());
        Assert.Equal("box", run.GetProperty("host").GetString());
        Assert.Equal("p", run.GetProperty("project").GetString());
    }

    [Fact]
    public async Task Upsert_PlainConfigOfTheJsClient_IsStoredAsIs()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        var id = WandbWire.NewRunId();

        await wandb.UpsertAsync(id, config: """{"lr":0.01,"opt":{"name":"adam"}}""");

        using var native = server.Http(key);
        Assert.Equal("""{"lr":0.01,"opt":{"name":"adam"}}""", (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("config").GetRawText());
    }

    [Fact]
    public async Task Upsert_OfLaunchedPendingRun_AttachesAndMergesLaunchConfig()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        var entity = (await wandb.DataAsync(PythonClient.Viewer)).GetProperty("viewer").GetProperty("entity").GetString()!;
        var identities = server.Server.Services.GetRequiredService<IIdentityStore>();
        var entityId = (await identities.FindEntityAsync(entity, default))!.Id;
        var id = WandbWire.NewRunId();
        var now = DateTimeOffset.UtcNow;
        await server.Server.Services.GetRequiredService<IRunStore>().TryCreateRunAsync(entityId, new RunRecord(
            id, entity, "p", "launched", RunStates.Pending, """{"lr":0.5,"epochs":3}""", "{}", null, null, null, null, null,
            now, null, null, null, false, null, 0), default);

        var bucket = await wandb.UpsertAsync(id, config: PythonClient.WrappedConfig("""
            "lr":{"value":0.5},"batch":{"value":32}
            """));

        using var native = server.Http(key);
        var run = await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        Assert.Equal("launched", bucket.GetProperty("displayName").GetString());
        Assert.Equal("running", run.GetProperty("state").GetString());
        Assert.Equal("""{"lr":0.5,"epochs":3,"batch":32}""", run.GetProperty("config").GetRawText());
    }

    [Fact]
    public async Task Upsert_OfAnotherEntitysRunId_IsAnErrorThatDoesNotLeakIt()
    {
        var ownerKey = await server.NewUserKeyAsync();
        using var owner = new WandbWire(server, ownerKey);
        var id = WandbWire.NewRunId();
        await owner.UpsertAsync(id, project: "secret-project", displayName: "secret-name");
        using var stranger = new WandbWire(server, await server.NewUserKeyAsync());

        var response = await stranger.GraphqlAsync(PythonClient.UpsertBucket, new JsonObject { ["name"] = id, ["project"] = "mine" });
        var resume = await stranger.DataAsync(PythonClient.RunResumeStatus, new JsonObject { ["project"] = "secret-project", ["name"] = id });
        var stream = await stranger.PostFileStreamAsync(id, "{}");

        var error = response.GetProperty("errors")[0].GetProperty("message").GetString()!;
        Assert.Contains("taken", error, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", response.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, response.GetProperty("data").GetProperty("upsertBucket").ValueKind);
        Assert.Equal(JsonValueKind.Null, resume.GetProperty("model").GetProperty("bucket").ValueKind);
        Assert.Equal(HttpStatusCode.NotFound, stream.StatusCode);
        using var native = server.Http(ownerKey);
        Assert.Equal("secret-name", (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Upsert_OfEndedRun_IsAnErrorSayingTheRunEnded()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());
        var id = WandbWire.NewRunId();
        await wandb.UpsertAsync(id);
        await wandb.FileStreamAsync(id, """{"complete":true,"exitcode":0}""");

        var response = await wandb.GraphqlAsync(PythonClient.UpsertBucket, new JsonObject { ["name"] = id, ["project"] = "p" });

        Assert.Contains("has ended", response.GetProperty("errors")[0].GetProperty("message").GetString()!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upsert_WithAnotherEntityNameOrBadProject_IsAnError()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        using var entity = await wandb.PostGraphqlAsync(PythonClient.UpsertBucket, new JsonObject { ["name"] = WandbWire.NewRunId(), ["project"] = "p", ["entity"] = "admin" });
        var project = await wandb.GraphqlAsync(PythonClient.UpsertBucket, new JsonObject { ["name"] = WandbWire.NewRunId(), ["project"] = "has space" });

        Assert.Equal(HttpStatusCode.NotFound, entity.StatusCode);
        using var refusal = JsonDocument.Parse(await entity.Content.ReadAsStringAsync());
        Assert.Contains("there is no entity 'admin'", refusal.RootElement.GetProperty("errors")[0].GetProperty("message").GetString()!, StringComparison.Ordinal);
        Assert.Contains("not a valid Liftoff project name", project.GetProperty("errors")[0].GetProperty("message").GetString()!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Viewer_ListsTheTeamsTheKeysUserBelongsTo()
    {
        var name = "w" + Guid.NewGuid().ToString("N")[..8];
        using var admin = server.Client();
        var member = await admin.CreateUserAsync(name + "-member");
        await admin.CreateUserAsync(name + "-boss");
        foreach (var team in new[] { name + "-b", name + "-a", name + "-other" })
        {
            using var adminHttp = server.Http(server.AdminKey);
            using var created = await adminHttp.PostAsync("/api/v1/teams/", new StringContent($$"""{"name":"{{team}}","admin":"{{name}}-boss"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
            if (team != name + "-other")
            {
                using var added = await adminHttp.PutAsync($"/api/v1/teams/{team}/members/{name}-member", new StringContent("""{"role":"viewer"}""", System.Text.Encoding.UTF8, "application/json"));
                Assert.Equal(System.Net.HttpStatusCode.OK, added.StatusCode);
            }
        }

        using var wandb = new WandbWire(server, member.Key.Key);
        var teams = (await wandb.DataAsync(PythonClient.Viewer)).GetProperty("viewer").GetProperty("teams").GetProperty("edges");

        Assert.Equal([name + "-a", name + "-b"], teams.EnumerateArray().Select(e => e.GetProperty("node").GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Viewer_AnswersEveryFieldWithFlagsAsJsonString()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        var viewer = (await wandb.DataAsync(PythonClient.Viewer)).GetProperty("viewer");

        Assert.StartsWith("u", viewer.GetProperty("entity").GetString(), StringComparison.Ordinal);
        Assert.Equal(viewer.GetProperty("entity").GetString(), viewer.GetProperty("username").GetString());
        Assert.Equal("{}", viewer.GetProperty("flags").GetString());
        Assert.Equal(JsonValueKind.Null, viewer.GetProperty("email").ValueKind);
        Assert.Equal(0, viewer.GetProperty("teams").GetProperty("edges").GetArrayLength());
        Assert.Equal(JsonValueKind.String, viewer.GetProperty("id").ValueKind);
    }

    [Fact]
    public async Task ServerInfo_AdvertisesNoFeaturesAndAMaxCliVersion()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        var info = (await wandb.DataAsync(PythonClient.ServerInfo)).GetProperty("serverInfo");
        var features = (await wandb.DataAsync(PythonClient.ServerFeatures)).GetProperty("serverInfo").GetProperty("features");
        var organization = (await wandb.DataAsync(PythonClient.Organization, new JsonObject { ["entityName"] = "anyone" })).GetProperty("entity");

        Assert.Equal("0.31.0", info.GetProperty("cliVersionInfo").GetProperty("max_cli_version").GetString());
        Assert.Equal(JsonValueKind.Null, info.GetProperty("latestLocalVersionInfo").ValueKind);
        Assert.Equal(0, features.GetArrayLength());
        Assert.Equal(JsonValueKind.Null, organization.ValueKind);
    }

    [Fact]
    public async Task Introspection_ListsImplementedFieldsAndAnswersUnknownTypesWithNoFields()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        var data = await wandb.DataAsync("""
            query ProbeServerCapabilities {
              QueryType: __type(name: "Query") { ...fieldData }
              MutationType: __type(name: "Mutation") { ...fieldData }
              Other: __type(name: "UseArtifactInput") { inputFields { name } }
            }
            fragment fieldData on __Type { fields { name } }
            """);

        var mutations = data.GetProperty("MutationType").GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("name").GetString());
        Assert.Contains("upsertBucket", mutations);
        Assert.Contains("createRunFiles", mutations);
        Assert.Contains("viewer", data.GetProperty("QueryType").GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        Assert.Equal(0, data.GetProperty("Other").GetProperty("inputFields").GetArrayLength());
    }

    [Fact]
    public async Task Query_WithAliasesFragmentsAndSkip_IsAnsweredInTheShapeAsked()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        var data = await wandb.DataAsync("""
            query Q($skip: Boolean!) { me: viewer { ...who kind: __typename flags @skip(if: $skip) unknownField } }
            fragment who on User { entity }
            """, new JsonObject { ["skip"] = true });

        var me = data.GetProperty("me");
        Assert.Equal(["entity", "kind", "unknownField"], me.EnumerateObject().Select(p => p.Name));
        Assert.Equal("User", me.GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, me.GetProperty("unknownField").ValueKind);
    }

    [Fact]
    public async Task CreateRunFiles_AnswersEachFileWithoutUploadUrl()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());
        var id = WandbWire.NewRunId();
        await wandb.UpsertAsync(id);

        var payload = (await wandb.DataAsync(PythonClient.CreateRunFiles, new JsonObject
        {
            ["entity"] = "e", ["project"] = "p", ["run"] = id, ["files"] = new JsonArray("wandb-metadata.json", "requirements.txt"),
        })).GetProperty("createRunFiles");

        Assert.Equal(id, payload.GetProperty("runID").GetString());
        Assert.Equal(["wandb-metadata.json", "requirements.txt"], payload.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        Assert.All(payload.GetProperty("files").EnumerateArray(), f => Assert.Equal(JsonValueKind.Null, f.GetProperty("uploadUrl").ValueKind));
    }

    [Fact]
    public async Task UnknownOperation_Is200WithAnErrorNamingIt()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        var response = await wandb.GraphqlAsync("mutation CreateArtifact { createArtifact(input: {}) { artifact { id } } }");

        Assert.Equal(JsonValueKind.Null, response.GetProperty("data").GetProperty("createArtifact").ValueKind);
        Assert.Contains("createArtifact", response.GetProperty("errors")[0].GetProperty("message").GetString()!, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"variables":{}}""")]
    [InlineData("""{"query":"query { viewer { "}""")]
    [InlineData("""{"query":"query A { viewer { id } } query B { viewer { id } }"}""")]
    public async Task NotAGraphqlRequest_Is400WithErrors(string body)
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        var response = await wandb.Http.PostAsync("/graphql", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.False(string.IsNullOrEmpty(document.RootElement.GetProperty("errors")[0].GetProperty("message").GetString()));
    }

    [Fact]
    public async Task BadKey_Is401OnEveryWandbRoute()
    {
        using var wandb = new WandbWire(server, "local-" + new string('x', 40));
        using var anonymous = server.Http();

        Assert.Equal(HttpStatusCode.Unauthorized, (await wandb.PostGraphqlAsync(PythonClient.Viewer)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wandb.PostFileStreamAsync("anyrun", "{}", entity: "anyone")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostJsonAsync("/graphql", """{"query":"{ viewer { id } }"}""")).StatusCode);
    }

    [Fact]
    public async Task BasicAuth_IsForTheWandbRoutesOnly_AndBearerWorksOnThemToo()
    {
        var key = await server.NewUserKeyAsync();
        using var wandb = new WandbWire(server, key);
        using var bearer = server.Http(key);

        var native = await wandb.Http.GetAsync("/api/v1/viewer");
        var graphql = await bearer.PostJsonAsync("/graphql", """{"query":"{ viewer { entity } }"}""");

        await native.ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, graphql.StatusCode);
    }

    [Fact]
    public async Task OtherPaths_Are404()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await wandb.Http.PostAsync("/sdk/otel/v1/metrics", new StringContent("{}"))).StatusCode);
    }
}
