using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

public sealed class RunsApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Run_InitLogFinish_IsStoredWithSummaryOfLastValues()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"mnist","name":"first","config":{"lr":0.1,"layers":[64,32]},"host":"box","python_version":"3.11.7"}""");

        await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", """{"rows":[{"step":0,"values":{"loss":1.0,"acc":0.1}},{"step":1,"values":{"loss":0.5}}]}""")).JsonAsync();
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", """{"offset":0,"lines":[{"stream":"stdout","text":"epoch 1"},{"stream":"stderr","text":"warn <b>"}]}""")).JsonAsync();
        var finished = await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":0}""")).JsonAsync();

        Assert.Equal("finished", finished.GetProperty("state").GetString());
        Assert.Equal(0, finished.GetProperty("exit_code").GetInt32());
        Assert.Equal("""{"lr":0.1,"layers":[64,32]}""", finished.GetProperty("config").GetRawText());
        Assert.Equal("""{"loss":0.5,"acc":0.1}""", finished.GetProperty("summary").GetRawText());
        Assert.Equal("box", finished.GetProperty("host").GetString());
        Assert.Equal(JsonValueKind.String, finished.GetProperty("ended_at").ValueKind);
        var history = await (await http.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync();
        Assert.Equal(2, history.GetProperty("rows").GetArrayLength());
        var logs = await (await http.GetAsync($"/api/v1/runs/{id}/logs")).Content.ReadAsStringAsync();
        Assert.Equal(2, logs.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"text\":\"warn \\u003Cb\\u003E\"", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Finish_WithNonZeroExitCode_IsFailedAndSecondDifferentFinishIsConflict()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"p"}""");

        var failed = await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":3}""")).JsonAsync();
        var again = await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":3}""")).JsonAsync();
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":0}""")).ProblemAsync(HttpStatusCode.Conflict);
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", """{"rows":[{"step":0,"values":{"a":1}}]}""")).ProblemAsync(HttpStatusCode.Conflict);

        Assert.Equal("failed", failed.GetProperty("state").GetString());
        Assert.Equal(3, again.GetProperty("exit_code").GetInt32());
    }

    [Fact]
    public async Task Stop_IsSeenByHeartbeatAndFinishMakesRunKilled()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"p"}""");

        await (await http.PostJsonAsync($"/api/v1/runs/{id}/stop", "")).JsonAsync();
        var beat = await (await http.PostJsonAsync($"/api/v1/runs/{id}/heartbeat", "")).JsonAsync();
        var ended = await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":130}""")).JsonAsync();

        Assert.True(beat.GetProperty("stop_requested").GetBoolean());
        Assert.Equal("killed", ended.GetProperty("state").GetString());
    }

    [Fact]
    public async Task History_ReplayedBatch_IsIdempotent()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"p"}""");
        const string batch = """{"rows":[{"step":0,"values":{"a":1}},{"step":1,"values":{"a":2}}]}""";

        await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", batch)).JsonAsync();
        var replay = await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", batch)).JsonAsync();

        Assert.Equal(0, replay.GetProperty("accepted").GetInt32());
        Assert.Equal(2, (await (await http.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync()).GetProperty("rows").GetArrayLength());
    }

    [Fact]
    public async Task ReadHistory_AfterStep_StartsAfterThatStepAndThePagerEnds()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        var id = await InitAsync(http, """{"project":"p"}""");
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", """{"rows":[{"step":0,"values":{"a":0}},{"step":1,"values":{"a":1}},{"step":2,"values":{"a":2}}]}""")).JsonAsync();

        var page = await (await http.GetAsync($"/api/v1/runs/{id}/history?after_step=0&limit=2")).JsonAsync();
        using var client = server.Client(key);
        var all = new List<long>();
        await foreach (var row in client.ReadHistoryAsync(id))
        {
            all.Add(row.Step);
        }

        Assert.Equal([1L, 2], page.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("step").GetInt64()));
        Assert.Equal([0L, 1, 2], all);
    }

    [Theory]
    [InlineData("""{"rows":[{"step":0,"values":{"loss":NaN}}]}""", "$.rows[0].values")]
    [InlineData("""{"rows":[{"step":0,"values":{"loss":Infinity}}]}""", "$.rows[0].values")]
    [InlineData("""{"rows":[{"step":0,"values":{"loss":1e999}}]}""", "rows[0].values.loss")]
    [InlineData("""{"rows":[{"step":0,"values":{"nested":{"x":[1,-1e999]}}}]}""", "rows[0].values.nested.x[1]")]
    [InlineData("""{"rows":[{"step":"zero","values":{}}]}""", "$.rows[0].step")]
    [InlineData("""{"rows":[{"step":0}]}""", "'values'")]
    [InlineData("""{"rows":[{"step":0,"values":[1,2]}]}""", "rows[0].values")]
    [InlineData("""{"rows":[{"step":4,"values":{}},{"step":3,"values":{}}]}""", "rows[1].step")]
    [InlineData("""{"rows":[{"step":-1,"values":{}}]}""", "rows[0].step")]
    [InlineData("""{"rows":[]}""", "rows")]
    [InlineData("""{"rows":[{"step":0,"values":{"a":1}},""", "$.rows")]
    [InlineData("""not json""", "$")]
    public async Task History_BadInput_Is400NamingTheFieldAndWritesNothing(string body, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"p"}""");

        var problem = await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Contains(field, problem.Detail(), StringComparison.Ordinal);
        Assert.DoesNotContain("Liftoff.", problem.Detail(), StringComparison.Ordinal);
        var run = await (await http.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        Assert.Equal(JsonValueKind.Null, run.GetProperty("last_step").ValueKind);
        Assert.Equal("{}", run.GetProperty("summary").GetRawText());
    }

    [Fact]
    public async Task History_StepBelowLastThatWasNeverStored_Is400AndLaterRowsOfTheBatchAreNotStored()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"p"}""");
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", """{"rows":[{"step":0,"values":{"a":1}},{"step":10,"values":{"a":2}}]}""")).JsonAsync();

        var problem = await (await http.PostJsonAsync($"/api/v1/runs/{id}/history", """{"rows":[{"step":5,"values":{"a":3}},{"step":11,"values":{"a":4}}]}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Contains("out of order", problem.Detail(), StringComparison.Ordinal);
        var run = await (await http.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        Assert.Equal(10, run.GetProperty("last_step").GetInt64());
        Assert.Equal("""{"a":2}""", run.GetProperty("summary").GetRawText());
    }

    [Fact]
    public async Task History_OversizeBody_Is413WithAdvice()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"p"}""");
        var body = new StringBuilder("""{"rows":[""");
        for (var i = 0; body.Length < 40 * 1024 * 1024; i++)
        {
            body.Append(i == 0 ? "" : ",").Append("{\"step\":").Append(i).Append(",\"values\":{\"padding\":\"").Append(new string('x', 1000)).Append("\"}}");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/runs/{id}/history") { Content = new StringContent(body.Append("]}").ToString(), Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;

        var problem = await (await http.SendAsync(request)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge);

        Assert.Contains("smaller batches", problem.Detail(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, (await (await http.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("last_step").ValueKind);
    }

    [Theory]
    [InlineData("""{"project":"bad name"}""", "project")]
    [InlineData("""{"project":"p","id":"a/b"}""", "id")]
    [InlineData("""{"project":"p","config":[1]}""", "config")]
    [InlineData("""{"project":"p","name":""}""", "name")]
    public async Task Init_BadInput_Is400NamingTheField(string body, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var problem = await (await http.PostJsonAsync("/api/v1/runs", body)).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Equal(0, (await (await http.GetAsync("/api/v1/runs")).JsonAsync()).GetProperty("runs").GetArrayLength());
    }

    [Fact]
    public async Task Init_WithIdOfRunningRun_IsConflict()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = "fixed" + Guid.NewGuid().ToString("N")[..8];
        await InitAsync(http, $$"""{"project":"p","id":"{{id}}"}""");

        var problem = await (await http.PostJsonAsync("/api/v1/runs", $$"""{"project":"p","id":"{{id}}"}""")).ProblemAsync(HttpStatusCode.Conflict);

        Assert.Contains("running", problem.Detail(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"offset":1,"lines":[{"stream":"stdout","text":"x"}]}""", "offset")]
    [InlineData("""{"offset":0,"lines":[{"stream":"stdin","text":"x"}]}""", "lines[0].stream")]
    [InlineData("""{"offset":-1,"lines":[]}""", "offset")]
    public async Task Logs_BadInput_Is400NamingTheField(string body, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http, """{"project":"p"}""");

        var problem = await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Equal(0, (await (await http.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("log_lines").GetInt64());
    }

    [Fact]
    public async Task UnknownRun_Is404OnEveryRoute()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        await (await http.GetAsync("/api/v1/runs/nosuchrun")).ProblemAsync(HttpStatusCode.NotFound);
        await (await http.PostJsonAsync("/api/v1/runs/nosuchrun/history", """{"rows":[{"step":0,"values":{}}]}""")).ProblemAsync(HttpStatusCode.NotFound);
        await (await http.PostJsonAsync("/api/v1/runs/nosuchrun/logs", """{"offset":0,"lines":[]}""")).ProblemAsync(HttpStatusCode.NotFound);
        await (await http.PostJsonAsync("/api/v1/runs/nosuchrun/heartbeat", "")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Body_WithoutJsonContentType_Is415WithAdvice()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var problem = await (await http.PostAsync("/api/v1/runs", new StringContent("{}", Encoding.UTF8, "text/plain"))).ProblemAsync(HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("application/json", problem.Detail(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_Follow_StreamsNewLinesUntilTheRunEnds()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        var id = await InitAsync(http, """{"project":"p"}""");
        using var client = server.Client(key);
        var received = new List<string>();
        var firstSeen = new TaskCompletionSource();
        var follow = Task.Run(async () =>
        {
            await foreach (var line in client.ReadLogsAsync(id, follow: true))
            {
                received.Add(line.Text);
                firstSeen.TrySetResult();
            }
        });

        await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", """{"offset":0,"lines":[{"stream":"stdout","text":"one"}]}""")).JsonAsync();
        await firstSeen.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", """{"offset":1,"lines":[{"stream":"stdout","text":"two"}]}""")).JsonAsync();
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":0}""")).JsonAsync();
        await follow.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(["one", "two"], received);
    }

    [Fact]
    public async Task ListRuns_FiltersByProjectAndPagesWithCursor()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        for (var i = 0; i < 5; i++)
        {
            await InitAsync(http, $$"""{"project":"{{(i < 3 ? "a" : "b")}}","name":"r{{i}}"}""");
        }

        var page1 = await (await http.GetAsync("/api/v1/runs?project=a&limit=2")).JsonAsync();
        var cursor = page1.GetProperty("next_cursor").GetString();
        var page2 = await (await http.GetAsync($"/api/v1/runs?project=a&limit=2&cursor={cursor}")).JsonAsync();

        var names = page1.GetProperty("runs").EnumerateArray().Concat(page2.GetProperty("runs").EnumerateArray()).Select(r => r.GetProperty("name").GetString());
        Assert.Equal(["r2", "r1", "r0"], names);
        Assert.Equal(JsonValueKind.Null, page2.GetProperty("next_cursor").ValueKind);
        await (await http.GetAsync("/api/v1/runs?state=bogus")).ProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ListRuns_SortFilterAndOffset_AreAppliedByTheServerAndCounted()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        for (var i = 0; i < 6; i++)
        {
            var opt = i % 2 == 0 ? "adam" : "sgd";
            await InitAsync(http, $$$"""{"project":"grid","name":"r{{{i}}}","config":{"lr":{{{(i + 1) / 10.0}}},"opt":"{{{opt}}}"}}""");
        }

        var page = await (await http.GetAsync("/api/v1/runs?project=grid&sort=-config.lr&filter=config.opt%3Dadam&filter=config.lr%3E%3D0.2&limit=1&offset=1&count=true")).JsonAsync();

        Assert.Equal(["r2"], page.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.Equal(2, page.GetProperty("total").GetInt64());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("runs")[0].GetProperty("job").ValueKind);
    }

    [Theory]
    [InlineData("sort=config.", "sort")]
    [InlineData("sort=colour", "sort")]
    [InlineData("filter=config.lr", "filter[0]")]
    [InlineData("filter=state%3Drunning", "filter[0]")]
    [InlineData("filter=name%3Dx&filter=summary.best%3Etrue", "filter[1]")]
    [InlineData("sort=name&cursor=5", "cursor")]
    [InlineData("offset=-1", "offset")]
    public async Task ListRuns_BadSortOrFilter_Is400NamingTheParameter(string query, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var problem = await (await http.GetAsync($"/api/v1/runs?{query}")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheRunsApi()
    {
        using var http = server.Http();
        var document = await (await http.GetAsync("/openapi/v1.json")).JsonAsync();
        Assert.True(document.GetProperty("paths").TryGetProperty("/api/v1/runs/{id}/history", out _));
    }

    private static async Task<string> InitAsync(HttpClient http, string body)
    {
        var run = await (await http.PostJsonAsync("/api/v1/runs", body)).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("running", run.GetProperty("state").GetString());
        return run.GetProperty("id").GetString()!;
    }
}
