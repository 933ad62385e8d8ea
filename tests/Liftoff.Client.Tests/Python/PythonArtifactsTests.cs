using System.Text.Json;
using Liftoff.Client.Tests.Cli;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Python;

public sealed class PythonArtifactsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task LogArtifactThenUseArtifact_RoundTripsAndTheRunsRecordIt()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        work.File("data/a.txt", "alpha");
        work.File("data/sub/b.bin", "beta");
        var script = $$"""
            import json, os, liftoff
            run = liftoff.init(project="p", console=False)
            version = run.log_artifact({{Quote(Path.Combine(work.Path, "data"))}}, name="ds", type="dataset", aliases=["gold"])
            again = run.log_artifact({{Quote(Path.Combine(work.Path, "data"))}}, name="ds", type="dataset")
            art = run.use_artifact("ds:gold")
            root = art.download(root={{Quote(Path.Combine(work.Path, "out"))}})
            print(json.dumps({"run": run.id, "version": version["version"], "again": again["version"], "created": again["created"], "root": root, "files": len(art.files)}))
            liftoff.finish()
            """;

        var result = await Testing.Python.RunAsync(script, server.PythonEnv(key));

        Assert.True(result.ExitCode == 0, result.ToString());
        var output = JsonDocument.Parse(result.Stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal("v0", output.GetProperty("version").GetString());
        Assert.Equal("v0", output.GetProperty("again").GetString());
        Assert.False(output.GetProperty("created").GetBoolean());
        Assert.Equal(2, output.GetProperty("files").GetInt32());
        Assert.Equal("alpha", await File.ReadAllTextAsync(Path.Combine(work.Path, "out", "a.txt")));
        Assert.Equal("beta", await File.ReadAllTextAsync(Path.Combine(work.Path, "out", "sub", "b.bin")));
        using var client = server.Client(key);
        var artifacts = await client.ListRunArtifactsAsync(output.GetProperty("run").GetString()!);
        Assert.Equal(["ds"], artifacts.Produced.Select(v => v.Name));
        Assert.Equal(["ds"], artifacts.Used.Select(v => v.Name));
    }

    [Fact]
    public async Task LaunchedRun_UnderItsRunKey_LogsUsesAndDownloadsArtifacts_AndMayNotCreateJobs()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        work.File("base/rows.csv", "a,b");
        work.File("data/a.txt", "alpha");
        using var client = server.Client(key);
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await client.UploadArtifactAsync(Path.Combine(work.Path, "base"), "p", "base", new ArtifactUploadOptions("dataset"));
        await client.CreateQueueAsync(new Contracts.CreateQueueRequest("q", Contracts.Resources.LocalProcess));
        await client.EnqueueAsync("q", new Contracts.EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new Contracts.RegisterAgentRequest("a1", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        var script = $$"""
            import json, liftoff
            from liftoff._artifacts import _client
            run = liftoff.init(project="p", console=False)
            version = run.log_artifact({{Quote(Path.Combine(work.Path, "data"))}}, name="ds", type="dataset", aliases=["gold"])
            base = run.use_artifact("base:latest")
            root = base.download(root={{Quote(Path.Combine(work.Path, "out"))}})
            try:
                evil = dict(project="p", name="train", definition=dict(source_type="image", source=dict(image="evil:1"), entrypoint=["sh"]))
                _client(run).request("POST", "/api/v1/jobs", evil)
                job = "created"
            except liftoff.Error as exc:
                job = str(exc)
            print(json.dumps({"run": run.id, "version": version["version"], "root": root, "job": job}))
            liftoff.finish()
            """;
        var env = server.PythonEnv(claim.Spec.Environment["LIFTOFF_API_KEY"], ("LIFTOFF_RUN_ID", claim.Spec.RunId), ("LIFTOFF_PROJECT", "p"));

        var result = await Testing.Python.RunAsync(script, env);

        Assert.True(result.ExitCode == 0, result.ToString());
        var output = JsonDocument.Parse(result.Stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(claim.Spec.RunId, output.GetProperty("run").GetString());
        Assert.Equal("a,b", await File.ReadAllTextAsync(Path.Combine(work.Path, "out", "rows.csv")));
        Assert.Contains("run's key", output.GetProperty("job").GetString(), StringComparison.Ordinal);
        Assert.Equal("v0", (await client.DescribeJobAsync("p", "train")).Selected.Artifact.Version);
        var artifacts = await client.ListRunArtifactsAsync(claim.Spec.RunId);
        Assert.Equal(["ds"], artifacts.Produced.Select(v => v.Name));
        Assert.Equal(["base"], artifacts.Used.Select(v => v.Name));
    }

    [Fact]
    public async Task LogArtifact_SymlinkOutside_RaisesAndUploadsNothing()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var secret = work.File("secret.txt", "nope");
        work.File("data/ok.txt", "ok");
        File.CreateSymbolicLink(Path.Combine(work.Path, "data", "link.txt"), secret);
        var script = $$"""
            import liftoff
            run = liftoff.init(project="p", console=False)
            try:
                run.log_artifact({{Quote(Path.Combine(work.Path, "data"))}}, name="leak", type="dataset")
            except liftoff.Error as e:
                print("refused:", e)
            liftoff.finish()
            """;

        var result = await Testing.Python.RunAsync(script, server.PythonEnv(key));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("refused: 'link.txt' is a symbolic link", result.Stdout, StringComparison.Ordinal);
        using var client = server.Client(key);
        Assert.Empty((await client.ListArtifactsAsync()).Artifacts);
    }

    [Fact]
    public async Task Init_WithJobSettingInAGitCheckout_CreatesARepoJobWithTheConfigAsDefaults()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var repo = await GitRepos.CreateAsync(Path.Combine(work.Path, "trainer"));
        Directory.CreateDirectory(Path.Combine(repo, "src"));
        await File.WriteAllTextAsync(Path.Combine(repo, "src", "fit.py"), """
            import liftoff
            run = liftoff.init(project="p", config={"lr": 0.5, "epochs": 2}, settings={"job": True}, console=False)
            liftoff.finish()
            """);
        await GitRepos.GitAsync(repo, "add", ".");
        await GitRepos.GitAsync(repo, "commit", "-q", "-m", "script");
        await GitRepos.GitAsync(repo, "remote", "add", "origin", "https://bob:gh-t0ken@git.example/org/trainer.git");
        var commit = await GitRepos.GitAsync(repo, "rev-parse", "HEAD");

        var result = await ProcessRunner.RunAsync(Testing.Python.Executable, [Path.Combine(repo, "src", "fit.py")], Testing.Python.Environment(server.PythonEnv(key)), workingDirectory: repo);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var client = server.Client(key);
        var job = await client.DescribeJobAsync("p", "trainer-fit");
        var source = job.Selected.Definition.Source!.Value;
        Assert.Equal("https://git.example/org/trainer.git", source.GetProperty("remote").GetString());
        Assert.Equal(commit, source.GetProperty("commit").GetString());
        Assert.Equal("src", source.GetProperty("subdir").GetString());
        Assert.Equal(["python", "fit.py"], job.Selected.Definition.Entrypoint);
        Assert.Equal(0.5, job.Selected.Definition.InputTypes!.Value.GetProperty("properties").GetProperty("lr").GetProperty("default").GetDouble());
        Assert.NotNull(job.Selected.Artifact.ProducedBy);
    }

    private static string Quote(string value) => JsonSerializer.Serialize(value);
}
