using System.Net;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Targets;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

public sealed class QueuesApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Defaults = """{"lr":0.1,"epochs":3,"optimizer":"adam"}""";

    [Theory]
    [InlineData("""{"name":"q","resource":"mainframe"}""", "resource")]
    [InlineData("""{"name":"bad name","resource":"local-process"}""", "name")]
    [InlineData("""{"name":"q","resource":"local-process","config":{"privileged":true}}""", "config.privileged")]
    [InlineData("""{"name":"q","resource":"local-process","config":{"env":{"A":"${nope}"}}}""", "config.env.A")]
    [InlineData("""{"name":"q","resource":"local-process","config":{"env":{"A":"{{gpus}}"}}}""", "config.env.A")]
    [InlineData("""{"name":"q","resource":"local-process","template_variables":[{"name":"gpus","type":"integer","min":8,"max":1}]}""", "template_variables[0].min")]
    [InlineData("""{"name":"q","resource":"local-process","max_attempts":0}""", "max_attempts")]
    [InlineData("""{"name":"q","resource":"local-process","max_run_seconds":0}""", "max_run_seconds")]
    [InlineData("""{"name":"q","resource":"local-process","retry_policy":{"backoff":{"jitter":2}}}""", "retry_policy.backoff.jitter")]
    [InlineData("""{"name":"q","resource":"local-process","retry_policy":{"attempts":{"cancelled":1}}}""", "retry_policy.attempts.cancelled")]
    public async Task CreateQueue_BadInput_Is400NamingTheField(string body, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var problem = await (await http.PostJsonAsync("/api/v1/queues", body)).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Equal(0, (await (await http.GetAsync("/api/v1/queues")).JsonAsync()).GetProperty("queues").GetArrayLength());
    }

    [Fact]
    public async Task CreateQueue_UnknownResource_IsRefusedNamingEveryRegisteredTarget()
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        var problem = await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"mainframe"}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Equal($"'mainframe' is not a target resource: {string.Join(", ", TargetRegistry.All.Select(t => t.Name))}",
            problem.GetProperty("errors").GetProperty("resource")[0].GetString());
    }

    [Fact]
    public async Task Enqueue_OrdersByPriorityThenAge()
    {
        var (http, client) = await SetUpAsync();
        foreach (var (priority, tag) in new[] { ("low", "l1"), ("medium", "m1"), ("critical", "c1"), ("medium", "m2"), ("high", "h1") })
        {
            await client.EnqueueAsync("q", new EnqueueRequest("train", "p", Config: Json($$"""{"optimizer":"{{tag}}"}"""), Priority: priority));
        }

        var items = await client.ListItemsAsync("q", "pending");

        Assert.Equal(["c1", "h1", "m1", "m2", "l1"], items.Items.Select(i => i.Config.GetProperty("optimizer").GetString()));
        Assert.All(items.Items, i => Assert.Equal(1, i.Attempt));
        http.Dispose();
    }

    [Fact]
    public async Task Enqueue_WithSameIdempotencyKeyTwice_MakesOneItem()
    {
        var (http, client) = await SetUpAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/queues/q/items") { Content = new StringContent("""{"job":"train","project":"p"}""", System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", "retry-1");
        using var again = new HttpRequestMessage(HttpMethod.Post, "/api/v1/queues/q/items") { Content = new StringContent("""{"job":"train","project":"p"}""", System.Text.Encoding.UTF8, "application/json") };
        again.Headers.Add("Idempotency-Key", "retry-1");

        var first = await (await http.SendAsync(request)).JsonAsync(HttpStatusCode.Created);
        var second = await (await http.SendAsync(again)).JsonAsync(HttpStatusCode.OK);

        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Single((await client.ListItemsAsync("q")).Items);
        http.Dispose();
    }

    [Theory]
    [InlineData("""{"job":"nosuchjob","project":"p"}""", "job")]
    [InlineData("""{"job":"train:v7","project":"p"}""", "job")]
    [InlineData("""{"project":"p"}""", "job")]
    [InlineData("""{"job":"train","project":"p","config":{"lr":"fast"}}""", "config.lr")]
    [InlineData("""{"job":"train","project":"p","config":{"momentum":0.9}}""", "config.momentum")]
    [InlineData("""{"job":"train","project":"p","config":[1]}""", "config")]
    [InlineData("""{"job":"train","project":"p","resource_args":"big"}""", "resource_args")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"gpus":2}}""", "resource_args.gpus")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"env":{"X":"${secret}"}}}""", "resource_args.env.X")]
    [InlineData("""{"job":"train","project":"p","template_values":{"size":"huge"}}""", "template_values.size")]
    [InlineData("""{"job":"train","project":"p","template_values":{"size":"small","extra":1}}""", "template_values.extra")]
    [InlineData("""{"job":"train","project":"p","priority":"urgent"}""", "priority")]
    [InlineData("""{"job":"image-job","project":"p"}""", "job")]
    public async Task Enqueue_BadInput_Is400NamingTheFieldAndEnqueuesNothing(string body, string field)
    {
        var (http, client) = await SetUpAsync(templated: true);

        var problem = await (await http.PostJsonAsync("/api/v1/queues/q/items", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Empty((await client.ListItemsAsync("q")).Items);
        http.Dispose();
    }

    [Fact]
    public async Task Enqueue_ToMissingQueue_Is404()
    {
        var (http, _) = await SetUpAsync();
        var problem = await (await http.PostJsonAsync("/api/v1/queues/nope/items", """{"job":"train","project":"p"}""")).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Contains("queue 'nope'", problem.Detail(), StringComparison.Ordinal);
        http.Dispose();
    }

    [Fact]
    public async Task Enqueue_TemplateValueOutOfBounds_IsRefusedWithTheBounds()
    {
        var (http, _) = await SetUpAsync(templated: true);
        var problem = await (await http.PostJsonAsync("/api/v1/queues/q/items", """{"job":"train","project":"p","template_values":{"size":"small","gpus":9}}""")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("integer in 1..8", problem.GetProperty("errors").GetProperty("template_values.gpus")[0].GetString(), StringComparison.Ordinal);
        http.Dispose();
    }

    [Fact]
    public async Task DryRun_ShowsMergedSubstitutedConfigAndEnvironment_AndEnqueuesNothing()
    {
        var (http, client) = await SetUpAsync(templated: true);

        var spec = await client.DryRunAsync("q", new EnqueueRequest("train", "p",
            Config: Json("""{"lr":0.5}"""),
            ResourceArgs: Json("""{"env":{"B":"item","SIZE":"{{size}}-{{gpus}}"}}"""),
            TemplateValues: new Dictionary<string, JsonElement> { ["size"] = Json("\"large\""), ["gpus"] = Json("4") }));

        Assert.Equal("""{"env":{"A":"queue-p-q","B":"item","SIZE":"large-4"}}""", spec.ResourceConfig.GetRawText());
        Assert.Equal("""{"env":{"A":"queue-p-q"}}""", spec.QueueResourceConfig?.GetRawText());
        Assert.Equal("""{"lr":0.5,"epochs":3,"optimizer":"adam"}""", spec.Config.GetRawText());
        Assert.Equal(["python", "train.py"], spec.Entrypoint);
        Assert.Equal(spec.Config.GetRawText(), spec.Environment["LIFTOFF_CONFIG"]);
        Assert.DoesNotContain("local-", spec.Environment["LIFTOFF_API_KEY"], StringComparison.Ordinal);
        Assert.Equal(("True", "q", spec.Config.GetRawText(), "p"), (spec.Environment["WANDB_LAUNCH"], spec.Environment["WANDB_LAUNCH_QUEUE_NAME"], spec.Environment["WANDB_CONFIG"], spec.Environment["WANDB_PROJECT"]));
        Assert.Empty((await client.ListItemsAsync("q")).Items);
        http.Dispose();
    }

    [Fact]
    public async Task DryRun_NamesNoItemId_SinceNoItemExists()
    {
        var (http, client) = await SetUpAsync();

        var spec = await client.DryRunAsync("q", new EnqueueRequest("train", "p"));

        Assert.DoesNotContain("item_", spec.ItemId, StringComparison.Ordinal);
        Assert.All(new[] { spec.ItemId, spec.Environment["LIFTOFF_ITEM_ID"], spec.Environment["WANDB_LAUNCH_TRACE_ID"] },
            id => Assert.Equal("<item id, given at enqueue>", id));
        http.Dispose();
    }

    [Fact]
    public async Task DeleteQueue_WithActiveItems_IsRefusedUnlessForced()
    {
        var (http, client) = await SetUpAsync();
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));

        await (await http.DeleteAsync("/api/v1/queues/q")).ProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("/api/v1/queues/q?force=true")).StatusCode);

        await (await http.GetAsync("/api/v1/queues/q")).ProblemAsync(HttpStatusCode.NotFound);
        http.Dispose();
    }

    [Fact]
    public async Task DescribeQueue_CountsItemsByStateAndNamesPollingAgents()
    {
        var (http, client) = await SetUpAsync();
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a1", ["q"], MaxJobs: 1));
        await client.ClaimAsync(agent.Id, TimeSpan.Zero);

        var queue = await client.GetQueueAsync("q");

        Assert.Equal(1, queue.Depth);
        Assert.Equal(1, queue.Items["leased"]);
        Assert.NotNull(queue.OldestPendingSeconds);
        Assert.Equal("a1", Assert.Single(queue.Agents).Name);
        http.Dispose();
    }

    [Fact]
    public async Task LaunchedRun_NamesItsJobQueueAndItem_AndIsFoundByJobAndQueue()
    {
        var (http, client) = await SetUpAsync();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a1", ["q"], MaxJobs: 1));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;

        var run = await (await http.GetAsync($"/api/v1/runs/{claim.Spec.RunId}")).JsonAsync();
        var byJob = await (await http.GetAsync("/api/v1/runs?project=p&job=train")).JsonAsync();
        var byQueue = await (await http.GetAsync("/api/v1/runs?queue=elsewhere")).JsonAsync();

        Assert.Equal(("train:v0", "q", item.Id), (run.GetProperty("job").GetString(), run.GetProperty("queue").GetString(), run.GetProperty("item_id").GetString()));
        var listed = Assert.Single(byJob.GetProperty("runs").EnumerateArray());
        Assert.Equal((claim.Spec.RunId, "q"), (listed.GetProperty("id").GetString(), listed.GetProperty("queue").GetString()));
        Assert.Empty(byQueue.GetProperty("runs").EnumerateArray());
        http.Dispose();
    }

    private async Task<(HttpClient Http, Liftoff.Client.LiftoffClient Client)> SetUpAsync(bool templated = false)
    {
        var key = await server.NewUserKeyAsync();
        var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train", configDefaults: Defaults);
        await TestJobs.CreateImageJobAsync(http, "p", "image-job");
        var queue = templated
            ? """{"name":"q","resource":"local-process","config":{"env":{"A":"queue-${project_name}-${queue_name}"}},"template_variables":[{"name":"size","type":"string","choices":["small","large"]},{"name":"gpus","type":"integer","min":1,"max":8}]}"""
            : """{"name":"q","resource":"local-process"}""";
        await (await http.PostJsonAsync("/api/v1/queues", queue)).JsonAsync(HttpStatusCode.Created);
        return (http, server.Client(key));
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
