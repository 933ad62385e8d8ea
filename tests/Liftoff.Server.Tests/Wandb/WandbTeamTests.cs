using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Wandb;

/// <summary>
/// A wandb client reporting into a team (<c>entity=TEAM</c>): the entity comes from upsertBucket's <c>entityName</c>
/// and the file_stream path, checked by the rule every request follows. Members and admins report into the team;
/// viewers (403) and outsiders (404) are refused with the client's own error, and nothing is written.
/// </summary>
public sealed class WandbTeamTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Theory]
    [InlineData("member")]
    [InlineData("admin")]
    public async Task JsClient_WithATeamEntity_ReportsIntoTheTeam(string role)
    {
        await WandbJs.InstallAsync();
        var team = await server.NewTeamAsync();
        var key = role == "admin" ? team.AdminKey : team.MemberKey;

        var result = await RunJsAsync(key, team.Name);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        Assert.Equal(team.Name, report.RootElement.GetProperty("entity").GetString());
        var id = report.RootElement.GetProperty("id").GetString()!;
        using var inTeam = new LiftoffClient(new LiftoffSettings(server.BaseUrl, team.ViewerKey) { Entity = team.Name });
        var run = await inTeam.GetRunAsync(id);
        Assert.Equal(team.Name, run.Entity);
        Assert.Equal(RunStates.Finished, run.State);
        Assert.Equal(19, run.LastStep);
        using var own = server.Client(key);
        Assert.Empty((await own.ListRunsAsync(project: "wandb-team")).Runs);
    }

    [Theory]
    [InlineData("viewer", 403)]
    [InlineData("outsider", 404)]
    public async Task JsClient_WithATeamEntity_WithoutTheMemberRole_FailsWithTheClientsError(string who, int status)
    {
        await WandbJs.InstallAsync();
        var team = await server.NewTeamAsync();
        var key = who == "viewer" ? team.ViewerKey : await server.NewUserKeyAsync();

        var result = await RunJsAsync(key, team.Name);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains($"Fatal HTTP error ({status})", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Failed to upsert run", result.Stderr, StringComparison.Ordinal);
        using var inTeam = new LiftoffClient(new LiftoffSettings(server.BaseUrl, team.AdminKey) { Entity = team.Name });
        Assert.Empty((await inTeam.ListRunsAsync(project: "wandb-team")).Runs);
    }

    [Fact]
    public async Task Wire_UpsertAndFileStream_TakeTheEntityTheyName_ByRole()
    {
        var team = await server.NewTeamAsync();
        using var member = new WandbWire(server, team.MemberKey);
        using var viewer = new WandbWire(server, team.ViewerKey);
        using var outsider = new WandbWire(server, await server.NewUserKeyAsync());
        var id = WandbWire.NewRunId();
        var upsert = new JsonObject { ["name"] = id, ["project"] = "p", ["entity"] = team.Name };

        var bucket = (await member.DataAsync(PythonClient.UpsertBucket, upsert.DeepClone().AsObject())).GetProperty("upsertBucket").GetProperty("bucket");
        using var viewerUpsert = await viewer.PostGraphqlAsync(PythonClient.UpsertBucket, new JsonObject { ["name"] = WandbWire.NewRunId(), ["project"] = "p", ["entity"] = team.Name });
        using var outsiderUpsert = await outsider.PostGraphqlAsync(PythonClient.UpsertBucket, new JsonObject { ["name"] = WandbWire.NewRunId(), ["project"] = "p", ["entity"] = team.Name });
        var streamed = await member.PostFileStreamAsync(id, WandbWire.Files(("wandb-history.jsonl", 0, ["""{"loss": 1}"""])), entity: team.Name);
        var underOwn = await member.PostFileStreamAsync(id, "{}");
        var byViewer = await viewer.PostFileStreamAsync(id, "{}", entity: team.Name);
        var byOutsider = await outsider.PostFileStreamAsync(id, "{}", entity: team.Name);
        var resume = (await viewer.DataAsync(PythonClient.RunResumeStatus, new JsonObject { ["project"] = "p", ["entity"] = team.Name, ["name"] = id })).GetProperty("model");
        var hidden = (await outsider.DataAsync(PythonClient.RunResumeStatus, new JsonObject { ["project"] = "p", ["entity"] = team.Name, ["name"] = id })).GetProperty("model");

        Assert.Equal(team.Name, bucket.GetProperty("project").GetProperty("entity").GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, viewerUpsert.StatusCode);
        Assert.Contains("needs the member role", await viewerUpsert.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, outsiderUpsert.StatusCode);
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, underOwn.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, byViewer.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, byOutsider.StatusCode);
        Assert.Equal(id, resume.GetProperty("bucket").GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, hidden.ValueKind);
        using var inTeam = new LiftoffClient(new LiftoffSettings(server.BaseUrl, team.AdminKey) { Entity = team.Name });
        var runs = (await inTeam.ListRunsAsync(project: "p")).Runs;
        Assert.Equal(id, Assert.Single(runs).Id);
        Assert.Equal(0, runs[0].LastStep);
    }

    private Task<ProcessResult> RunJsAsync(string key, string entity) => WandbJs.RunAsync("run.mjs", new Dictionary<string, string?>
    {
        ["WANDB_BASE_URL"] = server.BaseUrl.ToString().TrimEnd('/'),
        ["WANDB_API_KEY"] = key,
        ["WANDB_ENTITY"] = entity,
        ["LIFTOFF_STEPS"] = "20",
        ["LIFTOFF_EXIT_CODE"] = "0",
        ["LIFTOFF_PROJECT"] = "wandb-team",
    });
}
