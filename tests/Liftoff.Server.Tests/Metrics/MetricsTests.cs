using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Metrics;

/// <summary>A server with <c>/metrics</c> on a port of its own, as Prometheus scrapes it.</summary>
public sealed class MetricsPortServerFixture : ServerFixture
{
    public override int? MetricsPort { get; } = LoopbackPort.Free();
}

public sealed class MetricsTests(MetricsPortServerFixture server) : IClassFixture<MetricsPortServerFixture>
{
    [Fact]
    public async Task Prometheus_ScrapingTheMetricsPort_SeesQueueDepthItemCountsAndStoreTimings()
    {
        var queue = "gpu-" + Guid.NewGuid().ToString("N")[..8];
        var client = await SetUpAsync(queue);
        await client.EnqueueAsync(queue, new EnqueueRequest("train", "p"));
        await client.EnqueueAsync(queue, new EnqueueRequest("train", "p"));
        await client.EnqueueAsync(queue, new EnqueueRequest("train", "p", Priority: Priorities.High));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", [queue]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5)))!;
        await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(1, ItemStates.Running));
        await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(1, ItemStates.Finished, ExitCode: 0));

        await using var prometheus = await PrometheusServer.StartAsync(server.MetricsPort!.Value);
        var pending = await Poll.UntilAsync(() => prometheus.QueryAsync($"liftoff_queue_pending_items{{queue=\"{queue}\"}}"), s => s.Count > 0,
            TimeSpan.FromSeconds(60), "Prometheus to scrape the queue's depth");

        var only = Assert.Single(pending);
        Assert.Equal(("medium", 2.0), (only.Labels["priority"], only.Value));
        Assert.InRange(await ValueAsync(prometheus, $"liftoff_queue_oldest_pending_age_seconds{{queue=\"{queue}\"}}"), 0, 600);
        Assert.Equal(1.0, await ValueAsync(prometheus, $"liftoff_items_started_total{{queue=\"{queue}\"}}"));
        Assert.Equal(1.0, await ValueAsync(prometheus, $"liftoff_items_ended_total{{queue=\"{queue}\",state=\"finished\",failure_class=\"none\"}}"));
        Assert.Equal(1.0, await ValueAsync(prometheus, $"liftoff_item_wait_seconds_count{{queue=\"{queue}\"}}"));
        Assert.Equal(1.0, await ValueAsync(prometheus, $"liftoff_item_dispatch_seconds_count{{queue=\"{queue}\"}}"));
        Assert.Equal(0.0, await ValueAsync(prometheus, $"liftoff_queue_running_items{{queue=\"{queue}\"}}"));
        Assert.True(await ValueAsync(prometheus, "liftoff_store_operation_duration_seconds_count{operation=\"Claim\"}") >= 1);
        Assert.True(await ValueAsync(prometheus, "sum(http_request_duration_seconds_count{endpoint=\"/api/v1/agents/{id}/claim\"})") >= 1);
        Assert.True(await ValueAsync(prometheus, "liftoff_agents{state=\"polling\"}") >= 1);
    }

    [Fact]
    public async Task Promtool_ChecksTheExposition_WithoutAComplaint()
    {
        var queue = "lint-" + Guid.NewGuid().ToString("N")[..8];
        var client = await SetUpAsync(queue);
        await client.EnqueueAsync(queue, new EnqueueRequest("train", "p"));
        using var scraper = new HttpClient();

        var exposition = await scraper.GetStringAsync(new Uri($"http://127.0.0.1:{server.MetricsPort}/metrics"));
        var check = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], stdin: exposition, timeout: TimeSpan.FromSeconds(30));

        Assert.Contains($"liftoff_queue_pending_items{{entity=", exposition, StringComparison.Ordinal);
        Assert.True(check.ExitCode == 0 && check.Stdout.Trim().Length == 0 && check.Stderr.Trim().Length == 0,
            $"promtool check metrics exited {check.ExitCode}: {check.Stdout}{check.Stderr}");
    }

    [Fact]
    public async Task TheMetricsPort_ServesNothingElse_AndTheApiPortNoMetrics()
    {
        using var scraper = new HttpClient();
        using var admin = server.Http(server.AdminKey);

        var api = await scraper.GetAsync(new Uri($"http://127.0.0.1:{server.MetricsPort}/api/v1/queues"));
        var metrics = await admin.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
    }

    private static async Task<double> ValueAsync(PrometheusServer prometheus, string query) =>
        Assert.Single(await prometheus.QueryAsync(query)).Value;

    private async Task<LiftoffClient> SetUpAsync(string queue)
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", $$"""{"name":"{{queue}}","resource":"local-process"}""")).JsonAsync(HttpStatusCode.Created);
        return server.Client(key);
    }
}

/// <summary>Without a port of its own, <c>/metrics</c> names every entity's queues: the server admin's key only.</summary>
public sealed class MetricsAccessTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Metrics_OnTheApiPort_AnswerTheServerAdminOnly()
    {
        var key = await server.NewUserKeyAsync();
        using (var http = server.Http(key))
        {
            await TestJobs.CreateRepoJobAsync(http, "p", "train");
            await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process"}""")).JsonAsync(HttpStatusCode.Created);
        }

        using var client = server.Client(key);
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));
        var runKey = (await client.ClaimAsync(agent.Id, TimeSpan.FromSeconds(5)))!.Spec.Environment["LIFTOFF_API_KEY"];
        using var admin = server.Http(server.AdminKey);
        using var user = server.Http(key);
        using var run = server.Http(runKey);
        using var anonymous = server.Http(null);

        var scraped = await admin.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.StartsWith("text/plain", scraped.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.Contains("liftoff_queue_pending_items", await scraped.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await (await user.GetAsync("/metrics")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await run.GetAsync("/metrics")).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
    }
}
