using System.Net;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

/// <summary>Retry policies, failure classes and item history over HTTP, on a server clock the test moves (issue #17).</summary>
public sealed class RetryApiTests(FakeClockServerFixture server) : IClassFixture<FakeClockServerFixture>
{
    private const string Queue = """{"name":"q","resource":"local-process","max_run_seconds":3600,"retry_policy":{"attempts":{"infrastructure":2},"backoff":{"initial_seconds":60,"max_seconds":600,"jitter":0}}}""";

    [Theory]
    [InlineData("""{"job":"train","project":"p","retry_policy":{"attempts":{"infrastructure":3}}}""", "retry_policy.attempts.infrastructure")]
    [InlineData("""{"job":"train","project":"p","retry_policy":{"attempts":{"user":1}}}""", "retry_policy.attempts.user")]
    [InlineData("""{"job":"train","project":"p","retry_policy":{"retry_on_exit_codes":[1]}}""", "retry_policy.retry_on_exit_codes[0]")]
    [InlineData("""{"job":"train","project":"p","retry_policy":{"backoff":{"initial_seconds":1}}}""", "retry_policy.backoff.initial_seconds")]
    [InlineData("""{"job":"train","project":"p","max_run_seconds":3601}""", "max_run_seconds")]
    public async Task Enqueue_AskingForMoreThanTheQueueAllows_Is400NamingTheField_AndStoresNothing(string body, string field)
    {
        var (http, _) = await SetUpAsync();
        using (http)
        {
            var problem = await (await http.PostJsonAsync("/api/v1/queues/q/items", body)).ProblemAsync(HttpStatusCode.BadRequest);

            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
            Assert.Equal(0, (await (await http.GetAsync("/api/v1/queues/q")).JsonAsync()).GetProperty("depth").GetInt64());
        }
    }

    [Fact]
    public async Task Report_InfrastructureFailure_ShowsTheBackoffOnTheItem_ThenTheItemIsClaimableAgain_AndItsHistoryTellsItAll()
    {
        var (http, client) = await SetUpAsync();
        http.Dispose();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p", RetryPolicy: new RetryPolicy(new Dictionary<string, int> { ["infrastructure"] = 1 }), MaxRunSeconds: 60));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        Assert.Equal(60, claim.Spec.MaxRunSeconds);
        await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, ItemStates.Running));
        var failedAt = server.Clock.GetUtcNow();

        var retried = await client.ReportItemAsync(item.Id, new ItemProgressRequest(1, ItemStates.Failed, ItemPhases.Run, "node lost", FailureClass: FailureClasses.Infrastructure));

        Assert.Equal((ItemStates.Pending, 2, FailureClasses.Infrastructure, failedAt.AddSeconds(60)), (retried.State, retried.Attempt, retried.FailureClass, retried.ClaimableAt));
        Assert.Equal(1, retried.RetryPolicy!.Attempts![FailureClasses.Infrastructure]);
        Assert.Null(await client.ClaimAsync(agent.Id, TimeSpan.Zero));

        // Past the backoff by more than a reaper period, so that a tick of the reaper sees it over.
        server.Clock.Advance(TimeSpan.FromSeconds(70));
        await Poll.UntilAsync(() => client.GetItemAsync(item.Id), i => i.ClaimableAt is null, TimeSpan.FromSeconds(30), "the reaper to end the backoff");
        var again = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        Assert.Equal((item.Id, 2), (again.Item.Id, again.Spec.Attempt));
        var failed = await client.ReportItemAsync(item.Id, new ItemProgressRequest(2, ItemStates.Failed, ItemPhases.Submit, "503 again", FailureClass: FailureClasses.Infrastructure));

        Assert.Equal((ItemStates.Failed, FailureClasses.Infrastructure), (failed.State, failed.FailureClass));
        var history = (await client.GetItemHistoryAsync(item.Id)).Events;
        Assert.Equal(
            [(ItemStates.Pending, null), (ItemStates.Leased, null), (ItemStates.Running, null), (ItemStates.Pending, FailureClasses.Infrastructure), (ItemStates.Leased, null), (ItemStates.Failed, FailureClasses.Infrastructure)],
            history.Select(e => (e.State, e.FailureClass)));
        Assert.Equal(failedAt.AddSeconds(60), history[3].ClaimableAt);
    }

    [Fact]
    public async Task Report_WithAnUnknownFailureClass_Is400NamingTheField_AndChangesNothing()
    {
        var (http, client) = await SetUpAsync();
        using (http)
        {
            var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
            var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
            await client.ClaimAsync(agent.Id, TimeSpan.Zero);

            var problem = await (await http.PostJsonAsync($"/api/v1/items/{item.Id}/progress", """{"attempt":1,"state":"failed","failure_class":"cosmic-ray"}""")).ProblemAsync(HttpStatusCode.BadRequest);

            Assert.True(problem.GetProperty("errors").TryGetProperty("failure_class", out _), problem.GetRawText());
            Assert.Equal(ItemStates.Leased, (await client.GetItemAsync(item.Id)).State);
        }
    }

    [Fact]
    public async Task Report_WithTheRunsOwnKey_IsRefused_SoAJobCannotClassItsOwnFailure()
    {
        var (http, client) = await SetUpAsync();
        http.Dispose();
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        using var runKey = server.Http(claim.Spec.Environment["LIFTOFF_API_KEY"]);

        var response = await runKey.PostJsonAsync($"/api/v1/items/{item.Id}/progress", """{"attempt":1,"state":"failed","failure_class":"infrastructure"}""");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(ItemStates.Leased, (await client.GetItemAsync(item.Id)).State);
    }

    [Fact]
    public async Task GetQueue_ShowsTheCompletePolicy_DefaultsFilledIn()
    {
        var (http, client) = await SetUpAsync();
        http.Dispose();

        var queue = await client.GetQueueAsync("q");

        Assert.Equal((2, 5, 0), (queue.RetryPolicy!.Attempts!["infrastructure"], queue.RetryPolicy.Attempts["preemption"], queue.RetryPolicy.Attempts["user"]));
        Assert.Equal([137, 143], queue.RetryPolicy.RetryOnExitCodes!);
        Assert.Equal(3600, queue.MaxRunSeconds);
    }

    private async Task<(HttpClient Http, LiftoffClient Client)> SetUpAsync()
    {
        var key = await server.NewUserKeyAsync();
        var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", Queue)).JsonAsync(HttpStatusCode.Created);
        return (http, server.Client(key));
    }
}
