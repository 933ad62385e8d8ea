using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

public sealed class SecretsApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task SetListDelete_RoundTrip_NeverReturnsTheValue()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var value = "hf_" + Guid.NewGuid().ToString("N");

        var set = await http.PutAsync("/api/v1/secrets/HF_TOKEN", Body(value));
        var setBody = await set.Content.ReadAsStringAsync();
        var replaced = await (await http.PutAsync("/api/v1/secrets/HF_TOKEN", Body(value + "-2"))).JsonAsync();
        var listBody = await (await http.GetAsync("/api/v1/secrets")).Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.DoesNotContain(value, setBody, StringComparison.Ordinal);
        Assert.DoesNotContain(value, listBody, StringComparison.Ordinal);
        var listed = Assert.Single(JsonDocument.Parse(listBody).RootElement.GetProperty("secrets").EnumerateArray());
        Assert.Equal(["name", "created_at", "updated_at"], listed.EnumerateObject().Select(p => p.Name));
        Assert.Equal("HF_TOKEN", listed.GetProperty("name").GetString());
        Assert.Equal(JsonDocument.Parse(setBody).RootElement.GetProperty("created_at").GetDateTimeOffset(), replaced.GetProperty("created_at").GetDateTimeOffset());

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("/api/v1/secrets/HF_TOKEN")).StatusCode);
        await (await http.DeleteAsync("/api/v1/secrets/HF_TOKEN")).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Empty((await (await http.GetAsync("/api/v1/secrets")).JsonAsync()).GetProperty("secrets").EnumerateArray());
    }

    [Theory]
    [InlineData("bad-name", """{"value":"x"}""", "name")]
    [InlineData("9LIVES", """{"value":"x"}""", "name")]
    [InlineData("OK", """{"value":""}""", "value")]
    [InlineData("OK", """{"value":"a\u0000b"}""", "value")]
    public async Task SetSecret_BadInput_Is400NamingTheFieldAndStoresNothing(string name, string body, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        var problem = await (await http.PutAsync($"/api/v1/secrets/{name}", new StringContent(body, Encoding.UTF8, "application/json"))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Empty((await (await http.GetAsync("/api/v1/secrets")).JsonAsync()).GetProperty("secrets").EnumerateArray());
    }

    [Fact]
    public async Task Secrets_OfAnotherEntity_AreNeitherListedNorDeletable()
    {
        var owner = server.Client(await server.NewUserKeyAsync());
        var other = server.Client(await server.NewUserKeyAsync());
        await owner.SetSecretAsync("SHARED_NAME", "owner's value");

        Assert.Empty((await other.ListSecretsAsync()).Secrets);
        var refused = await Assert.ThrowsAsync<LiftoffException>(() => other.DeleteSecretAsync("SHARED_NAME"));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Single((await owner.ListSecretsAsync()).Secrets);
    }

    [Fact]
    public async Task Secret_IsEncryptedAtRest_TheValueIsInNoFileOfTheDataDirectoryNorInItsRow()
    {
        var client = server.Client(await server.NewUserKeyAsync());
        var value = "at-rest-" + Guid.NewGuid().ToString("N");

        await client.SetSecretAsync("AT_REST", value);

        var needle = Encoding.UTF8.GetBytes(value);
        foreach (var file in Directory.EnumerateFiles(server.DataDirectory, "*", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.True(copy.ToArray().AsSpan().IndexOf(needle) < 0, $"the secret's value is in {file}");
        }

        await using var connection = new SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, "liftoff.db")};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT ciphertext FROM secrets WHERE name = 'AT_REST'";
        var ciphertext = (string)(await command.ExecuteScalarAsync())!;
        Assert.DoesNotContain(value, ciphertext, StringComparison.Ordinal);
        Assert.True(ciphertext.Length > value.Length);
    }

    [Fact]
    public async Task RunKey_CanNeitherListNorSetNorDeleteSecrets()
    {
        var (key, client) = await QueueAsync("""{"env":{"A":"${secret:RUN_KEY_TEST}"}}""");
        await client.SetSecretAsync("RUN_KEY_TEST", "the user's value");
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        using var runHttp = server.Http(claim.Spec.Environment["LIFTOFF_API_KEY"]);

        Assert.Equal(HttpStatusCode.Forbidden, (await runHttp.GetAsync("/api/v1/secrets")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await runHttp.PutAsync("/api/v1/secrets/RUN_KEY_TEST", Body("overwritten"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await runHttp.DeleteAsync("/api/v1/secrets/RUN_KEY_TEST")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await runHttp.PostAsync($"/api/v1/agents/{agent.Id}/claim", new StringContent("{}", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Single((await server.Client(key).ListSecretsAsync()).Secrets);
    }

    [Theory]
    [InlineData("""{"env":{"A":"${secret:NOT_SET}"}}""", null, "queue.config.env.A")]
    [InlineData("{}", """{"env":{"B":"prefix-${secret:NOT_SET}"}}""", "resource_args.env.B")]
    public async Task EnqueueAndDryRun_WithASecretTheEntityDoesNotHold_Are400NamingItAndStoreNothing(string queueConfig, string? args, string field)
    {
        var (key, client) = await QueueAsync(queueConfig);
        using var http = server.Http(key);
        var body = args is null ? """{"job":"train","project":"p"}""" : $$"""{"job":"train","project":"p","resource_args":{{args}}}""";

        var enqueued = await (await http.PostJsonAsync("/api/v1/queues/q/items", body)).ProblemAsync(HttpStatusCode.BadRequest);
        var dryRun = await (await http.PostJsonAsync("/api/v1/queues/q/dry-run", body)).ProblemAsync(HttpStatusCode.BadRequest);

        foreach (var problem in new[] { enqueued, dryRun })
        {
            Assert.Contains("secret 'NOT_SET' is not set", problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
        }

        Assert.Empty((await client.ListItemsAsync("q")).Items);
    }

    [Fact]
    public async Task Enqueue_ReferencingAnotherEntitysSecret_Is400()
    {
        var other = server.Client(await server.NewUserKeyAsync());
        await other.SetSecretAsync("THEIRS", "not yours");
        var (key, _) = await QueueAsync("{}");
        using var http = server.Http(key);

        var problem = await (await http.PostJsonAsync("/api/v1/queues/q/items", """{"job":"train","project":"p","resource_args":{"env":{"X":"${secret:THEIRS}"}}}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("resource_args.env.X", out _), problem.GetRawText());
    }

    [Theory]
    [InlineData("""{"name":"q","resource":"local-process","config":{"python":"${secret:X}"}}""", "config.python")]
    [InlineData("""{"name":"q","resource":"local-process","config":{"env":{"A":"${secret:bad-name}"}}}""", "config.env.A")]
    [InlineData("""{"name":"q","resource":"kubernetes","config":{"metadata":{"labels":{"a":"${secret:X}"}}}}""", "config.metadata.labels.a")]
    public async Task CreateQueue_WithAReferenceOutsideAnEnvironmentValue_Is400(string body, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        var problem = await (await http.PostJsonAsync("/api/v1/queues", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task DryRunAndStoredItem_ShowTheReference_OnlyTheClaimCarriesTheValue()
    {
        var value = "claim-only-" + Guid.NewGuid().ToString("N");
        var (key, client) = await QueueAsync("""{"env":{"FROM_QUEUE":"${secret:DB_PASSWORD}"}}""");
        using var http = server.Http(key);
        await client.SetSecretAsync("DB_PASSWORD", value);
        const string Body = """{"job":"train","project":"p","resource_args":{"env":{"FROM_ITEM":"user:${secret:DB_PASSWORD}"}}}""";

        var dryRun = await (await http.PostJsonAsync("/api/v1/queues/q/dry-run", Body)).Content.ReadAsStringAsync();
        var item = await (await http.PostJsonAsync("/api/v1/queues/q/items", Body)).JsonAsync(HttpStatusCode.Created);
        var stored = await (await http.GetAsync($"/api/v1/items/{item.GetProperty("id").GetString()}")).Content.ReadAsStringAsync();
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;

        Assert.Contains("${secret:DB_PASSWORD}", dryRun, StringComparison.Ordinal);
        Assert.DoesNotContain(value, dryRun, StringComparison.Ordinal);
        Assert.Contains("user:${secret:DB_PASSWORD}", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(value, stored, StringComparison.Ordinal);
        Assert.Equal(new Dictionary<string, string> { ["DB_PASSWORD"] = value }, claim.Spec.Secrets);
        var env = claim.Spec.ResourceConfig.GetProperty("env");
        Assert.Equal(("${secret:DB_PASSWORD}", "user:${secret:DB_PASSWORD}"), (env.GetProperty("FROM_QUEUE").GetString(), env.GetProperty("FROM_ITEM").GetString()));
    }

    private async Task<(string Key, LiftoffClient Client)> QueueAsync(string config)
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", $$"""{"name":"q","resource":"local-process","config":{{config}}}""")).JsonAsync(HttpStatusCode.Created);
        return (key, server.Client(key));
    }

    private static StringContent Body(string value) =>
        new(JsonSerializer.Serialize(new SetSecretRequest(value), LiftoffJsonContext.Default.SetSecretRequest), Encoding.UTF8, "application/json");
}
