using System.Net;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

/// <summary>The real <c>liftoff agent</c> working a team's queue with its service account's agent-only key.</summary>
public sealed class ServiceAccountAgentTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Agent_WithAServiceAccountsAgentOnlyKey_RunsATeamItemToTheEnd_AndTheKeyDoesNothingElse()
    {
        var team = "t" + Guid.NewGuid().ToString("N")[..8];
        var queue = "gpu";
        using var admin = server.Client();
        await admin.CreateTeamAsync(team, (await admin.GetViewerAsync()).Entity);
        using var owner = new LiftoffClient(new LiftoffSettings(server.BaseUrl, server.AdminKey) { Entity = team });
        await owner.CreateQueueAsync(new CreateQueueRequest(queue, "local-process"));
        using var code = new TempDirectory();
        code.File("train.py", """
            import liftoff
            run = liftoff.init(config={"lr": 0.5})
            run.log({"loss": 1.0})
            print("trained by the team's agent")
            liftoff.finish()
            """);
        var artifact = await owner.UploadArtifactAsync(code.Path, "p", "train-code", new ArtifactUploadOptions("code"));
        await owner.CreateJobAsync(new CreateJobRequest("p", "train", new JobDefinition(
            JobSourceTypes.Artifact, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }), ["python", "train.py"])));
        await owner.CreateServiceAccountAsync(team, "gpu-box");
        var key = (await owner.CreateServiceAccountKeyAsync(team, "gpu-box", new CreateKeyRequest("agent", true, [queue]))).Key;
        using var work = new TempDirectory();
        var config = work.File("agent.yaml", $"""
            queues: [{queue}]
            python: {Python.Executable}
            """);

        using var agent = AgentProcess.Start(server.BaseUrl, key, "--config", config, "--work-dir", Path.Combine(work.Path, "agent"));
        var item = await owner.EnqueueAsync(queue, new EnqueueRequest("train", "p"));
        var done = await Poll.UntilAsync(() => owner.GetItemAsync(item.Id), i => i.State is ItemStates.Finished or ItemStates.Failed, TimeSpan.FromSeconds(120), "the item to end");

        var lines = new List<string>();
        await foreach (var line in owner.ReadLogsAsync(done.RunId!))
        {
            lines.Add(line.Text);
        }

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}\n{string.Join('\n', lines)}\n{agent.Output}");
        Assert.Contains("trained by the team's agent", lines);
        Assert.Equal(RunStates.Finished, (await owner.GetRunAsync(done.RunId!)).State);
        var agents = (await owner.ListAgentsAsync()).Agents;
        Assert.Contains(agents, a => a.Queues.SequenceEqual([queue]));

        // (A service account never manages its own keys, agent-only or not: POST /api/v1/keys is refused before this boundary.)
        using var http = server.Http(key);
        foreach (var (method, path) in new[]
        {
            ("GET", "/api/v1/runs/"), ("POST", $"/api/v1/queues/{queue}/items"), ("GET", "/api/v1/keys"),
            ("GET", $"/api/v1/items/{item.Id}"), ("POST", $"/api/v1/runs/{done.RunId}/stop"), ("GET", "/api/v1/jobs/"),
        })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? new StringContent("{}", System.Text.Encoding.UTF8, "application/json") : null };
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {(int)response.StatusCode} {text}");
            Assert.Contains("this API key is agent-only", text, StringComparison.Ordinal);
        }
    }
}
