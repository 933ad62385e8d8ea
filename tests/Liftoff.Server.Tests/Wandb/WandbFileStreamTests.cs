using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Wandb;

/// <summary>The file_stream requests of the Python client, replayed against the real server and read back through the native API.</summary>
public sealed class WandbFileStreamTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string History = "wandb-history.jsonl";
    private const string Summary = "wandb-summary.json";
    private const string Output = "output.log";
    private const string Events = "wandb-events.jsonl";

    [Fact]
    public async Task History_WithNonFiniteValues_IsStoredAndShownAsNaNAndInfinityStrings()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;

        var answer = await wandb.FileStreamAsync(id, WandbWire.Files(
            (History, 0, [
                """{"loss": NaN, "acc": 0.5, "_step": 0, "_runtime": 1.5, "_timestamp": 1700000000.25}""",
                """{"loss": Infinity, "grad": -Infinity, "_step": 1, "_runtime": 2.5, "_timestamp": 1700000001.5}""",
            ]),
            (Summary, 0, ["""{"loss": Infinity, "grad": -Infinity, "acc": 0.5, "_step": 1, "best": NaN}"""])));

        Assert.False(answer.GetProperty("stopped").GetBoolean());
        var rows = (await (await native.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync()).GetProperty("rows");
        Assert.Equal("""{"loss":"NaN","acc":0.5,"_step":0,"_runtime":1.5,"_timestamp":1700000000.25}""", rows[0].GetProperty("values").GetRawText());
        Assert.Equal("""{"loss":"Infinity","grad":"-Infinity","_step":1,"_runtime":2.5,"_timestamp":1700000001.5}""", rows[1].GetProperty("values").GetRawText());
        Assert.Equal([0L, 1], rows.EnumerateArray().Select(r => r.GetProperty("step").GetInt64()));
        Assert.Equal(1700000001.5, rows[1].GetProperty("time").GetDouble());
        var run = await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        Assert.Equal("""{"loss":"Infinity","grad":"-Infinity","acc":0.5,"_step":1,"best":"NaN"}""", run.GetProperty("summary").GetRawText());
        Assert.Equal(1, run.GetProperty("last_step").GetInt64());
    }

    [Fact]
    public async Task History_LinesWithoutStep_UseTheirLineNumber_AndLeaveTheClientsSummaryAlone()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;

        await wandb.FileStreamAsync(id, WandbWire.Files((History, 4, ["""{"a": 1}""", """{"a": 2, "b": 3}"""])));

        var rows = (await (await native.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync()).GetProperty("rows");
        Assert.Equal([4L, 5], rows.EnumerateArray().Select(r => r.GetProperty("step").GetInt64()));
        Assert.Equal("{}", (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("summary").GetRawText());
    }

    [Fact]
    public async Task RetriedRequest_ChangesNothing()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;
        var body = WandbWire.Files(
            (History, 0, ["""{"x": 1, "_step": 0}""", """{"x": 2, "_step": 1}"""]),
            (Output, 0, ["2024-05-01T10:00:00.000000 hello"]));

        await wandb.FileStreamAsync(id, body);
        await wandb.FileStreamAsync(id, body);

        Assert.Equal(2, (await (await native.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync()).GetProperty("rows").GetArrayLength());
        Assert.Single(await LogsAsync(native, id));
        Assert.Equal(1, (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("log_lines").GetInt64());
    }

    [Fact]
    public async Task ConsoleLines_OverwriteByLineNumber_WithStreamAndTimeFromTheWandbLineFormat()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;

        await wandb.FileStreamAsync(id, WandbWire.Files((Output, 0, [
            "2024-05-01T10:00:00.000000 epoch 1",
            "ERROR 2024-05-01T10:00:01.500000 warning: slow",
            "2024-05-01T10:00:02.000000  10%|#         | 1/10",
        ])));
        await wandb.FileStreamAsync(id, WandbWire.Files((Output, 2, ["2024-05-01T10:00:09.000000 100%|##########| 10/10"])));

        var lines = await LogsAsync(native, id);
        Assert.Equal(["epoch 1", "warning: slow", "100%|##########| 10/10"], lines.Select(l => l.GetProperty("text").GetString()));
        Assert.Equal(["stdout", "stderr", "stdout"], lines.Select(l => l.GetProperty("stream").GetString()));
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 1, 500, TimeSpan.Zero).ToUnixTimeMilliseconds() / 1000.0, lines[1].GetProperty("time").GetDouble());
    }

    [Fact]
    public async Task Events_AreAcceptedWithoutTouchingHistoryOrSummary()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;

        var answer = await wandb.FileStreamAsync(id, WandbWire.Files((Events, 0, ["""{"system.cpu": 12.5, "_runtime": 3, "_timestamp": 1700000000}"""])));

        Assert.False(answer.GetProperty("stopped").GetBoolean());
        Assert.Equal(0, (await (await native.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync()).GetProperty("rows").GetArrayLength());
        Assert.Equal("{}", (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("summary").GetRawText());
    }

    [Fact]
    public async Task Heartbeat_IsAnsweredAndCountsAsASignOfLife()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;
        var before = (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("heartbeat_at").GetDateTimeOffset();

        var answer = await Poll.UntilAsync(async () =>
        {
            await wandb.FileStreamAsync(id, "{}");
            return (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("heartbeat_at").GetDateTimeOffset();
        }, at => at > before, TimeSpan.FromSeconds(10), "a heartbeat to move heartbeat_at");

        Assert.True(answer > before);
        Assert.Equal("""{"stopped":false}""", await (await wandb.PostFileStreamAsync(id, "{}")).Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(0, "finished")]
    [InlineData(1, "failed")]
    public async Task Complete_FinishesTheRunWithItsExitCode_AndARetryIsStill200(int exitCode, string state)
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;
        var body = $$$"""{"files":{"{{{History}}}":{"offset":0,"content":["{\"a\":1,\"_step\":0}"]}},"complete":true,"exitcode":{{{exitCode}}}}""";

        await wandb.FileStreamAsync(id, body);
        var retry = await wandb.PostFileStreamAsync(id, body);

        var run = await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        Assert.Equal(state, run.GetProperty("state").GetString());
        Assert.Equal(exitCode, run.GetProperty("exit_code").GetInt32());
        Assert.Equal(0, run.GetProperty("last_step").GetInt64());
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
    }

    [Fact]
    public async Task Stop_ReachesTheClientThroughFileStreamAndRunStoppedStatus_AndFinishMakesItKilled()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;

        await (await native.PostJsonAsync($"/api/v1/runs/{id}/stop", "")).JsonAsync();
        var answer = await wandb.FileStreamAsync(id, "{}");
        var status = await wandb.DataAsync(PythonClient.RunStoppedStatus, new JsonObject { ["projectName"] = "p", ["runId"] = id });
        await wandb.FileStreamAsync(id, """{"complete":true,"exitcode":255}""");

        Assert.True(answer.GetProperty("stopped").GetBoolean());
        Assert.True(status.GetProperty("project").GetProperty("run").GetProperty("stopped").GetBoolean());
        Assert.Equal("killed", (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Resume_StatusReportsOffsetsTailsAndWrappedConfig_AndTheResumedStreamContinues()
    {
        using var streamed = await NewRunAsync(PythonClient.WrappedConfig("""
            "lr":{"desc":null,"value":0.1}
            """));
        var (wandb, native, id) = streamed;
        await wandb.FileStreamAsync(id, WandbWire.Files(
            (History, 0, ["""{"x": 1, "_step": 0, "_runtime": 1}""", """{"x": 2, "_step": 1, "_runtime": 2}""", """{"x": NaN, "_step": 2, "_runtime": 3}"""]),
            (Summary, 0, ["""{"x": NaN, "_step": 2}"""]),
            (Output, 0, ["2024-05-01T10:00:00.000000 one", "2024-05-01T10:00:00.000000 two"])));

        var status = (await wandb.DataAsync(PythonClient.RunResumeStatus, new JsonObject { ["project"] = "p", ["entity"] = null, ["name"] = id }))
            .GetProperty("model").GetProperty("bucket");
        await wandb.UpsertAsync(id, config: PythonClient.WrappedConfig("""
            "lr":{"desc":null,"value":0.1}
            """));
        await wandb.FileStreamAsync(id, WandbWire.Files((History, 3, ["""{"x": 4, "_step": 3, "_runtime": 4}"""])));

        Assert.Equal(3, status.GetProperty("historyLineCount").GetInt32());
        Assert.Equal(2, status.GetProperty("logLineCount").GetInt32());
        Assert.Equal(0, status.GetProperty("eventsLineCount").GetInt32());
        Assert.Equal("[]", status.GetProperty("eventsTail").GetString());
        using var tail = JsonDocument.Parse(status.GetProperty("historyTail").GetString()!);
        using var last = JsonDocument.Parse(tail.RootElement[tail.RootElement.GetArrayLength() - 1].GetString()!);
        Assert.Equal(2, last.RootElement.GetProperty("_step").GetInt64());
        Assert.Equal(3, last.RootElement.GetProperty("_runtime").GetDouble());
        using var config = JsonDocument.Parse(status.GetProperty("config").GetString()!);
        Assert.Equal(0.1, config.RootElement.GetProperty("lr").GetProperty("value").GetDouble());
        Assert.True(config.RootElement.GetProperty("_wandb").GetProperty("value").TryGetProperty("t", out _));
        using var wandbConfig = JsonDocument.Parse(status.GetProperty("wandbConfig").GetString()!);
        Assert.Equal(["t"], wandbConfig.RootElement.EnumerateObject().Select(p => p.Name));
        using var summary = JsonDocument.Parse(status.GetProperty("summaryMetrics").GetString()!);
        Assert.Equal(2, summary.RootElement.GetProperty("_step").GetInt64());
        Assert.Equal(JsonValueKind.Object, status.GetProperty("runInfo").ValueKind);
        var rows = (await (await native.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync()).GetProperty("rows");
        Assert.Equal([0L, 1, 2, 3], rows.EnumerateArray().Select(r => r.GetProperty("step").GetInt64()));
    }

    [Fact]
    public async Task ResumeStatus_OfUnknownRun_HasNullBucket()
    {
        using var wandb = new WandbWire(server, await server.NewUserKeyAsync());

        var model = (await wandb.DataAsync(PythonClient.RunResumeStatus, new JsonObject { ["project"] = "p", ["name"] = "neverseen" })).GetProperty("model");

        Assert.Equal("p", model.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("bucket").ValueKind);
    }

    [Fact]
    public async Task FileStream_OfUnknownRun_Is404_UnderAnotherEntity404_UnderAnyProjectIs200()
    {
        using var streamed = await NewRunAsync();
        var (wandb, _, id) = streamed;

        var unknown = await wandb.PostFileStreamAsync("neverseen", "{}");
        var otherEntity = await wandb.PostFileStreamAsync(id, "{}", entity: "other-entity");
        var otherProject = await wandb.PostFileStreamAsync(id, "{}", project: "other-project");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, otherEntity.StatusCode);
        Assert.Contains("there is no entity 'other-entity'", await otherEntity.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, otherProject.StatusCode);
    }

    [Fact]
    public async Task FileStream_OfSixteenMebibytes_IsAccepted()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;
        var padding = new string('x', 16 * 1024);
        var lines = Enumerable.Range(0, 1030).Select(i => $$"""{"_step": {{i}}, "pad": "{{padding}}"}""").ToArray();

        var body = WandbWire.Files((History, 0, lines));
        await wandb.FileStreamAsync(id, body);

        Assert.True(body.Length > 16 * 1024 * 1024);
        Assert.Equal(1029, (await (await native.GetAsync($"/api/v1/runs/{id}")).JsonAsync()).GetProperty("last_step").GetInt64());
    }

    [Fact]
    public async Task History_LinesThatAreNotJsonObjects_AreDroppedAndTheRestStored()
    {
        using var streamed = await NewRunAsync();
        var (wandb, native, id) = streamed;

        await wandb.FileStreamAsync(id, WandbWire.Files((History, 0, ["""{"a": 1}""", "[1]", """{"a": 2""", """{"a": 3} x""", """{"a": 4}"""])));

        var rows = (await (await native.GetAsync($"/api/v1/runs/{id}/history")).JsonAsync()).GetProperty("rows");
        Assert.Equal([0L, 4], rows.EnumerateArray().Select(r => r.GetProperty("step").GetInt64()));
    }

    [Fact]
    public async Task FileStream_NotAJsonObject_Is400()
    {
        using var streamed = await NewRunAsync();
        var (wandb, _, id) = streamed;
        Assert.Equal(HttpStatusCode.BadRequest, (await wandb.PostFileStreamAsync(id, "[1,2]")).StatusCode);
    }

    private async Task<StreamedRun> NewRunAsync(string? config = null)
    {
        var key = await server.NewUserKeyAsync();
        var run = new StreamedRun(new WandbWire(server, key), server.Http(key), WandbWire.NewRunId());
        await run.Wandb.UpsertAsync(run.Id, config: config);
        return run;
    }

    private static async Task<List<JsonElement>> LogsAsync(HttpClient native, string id)
    {
        var text = await (await native.GetAsync($"/api/v1/runs/{id}/logs")).Content.ReadAsStringAsync();
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
    }
}

/// <summary>A run made by upsertBucket, with a wandb client and a native client of its owner.</summary>
internal sealed record StreamedRun(WandbWire Wandb, HttpClient Native, string Id) : IDisposable
{
    public void Dispose()
    {
        Wandb.Dispose();
        Native.Dispose();
    }
}
