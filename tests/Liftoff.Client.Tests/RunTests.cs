using System.Text.Json.Nodes;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests;

/// <summary>The .NET SDK's Run against the real server.</summary>
public sealed class RunTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Run_LoggingAThousandSteps_IsFinishedWithEveryRowAndSummary()
    {
        var key = await server.NewUserKeyAsync();
        string id;
        await using (var run = await Run.InitAsync(Options(key) with { Project = "mnist", Config = new JsonObject { ["lr"] = 0.1 } }))
        {
            id = run.Id;
            for (var s = 0; s < 1000; s++)
            {
                run.Log(new Dictionary<string, double> { ["loss"] = 1.0 / (s + 1) });
            }
        }

        using var client = server.Client(key);
        var info = await client.GetRunAsync(id);
        var history = await client.ReadHistoryAsync(id).ToListAsync();

        Assert.Equal("finished", info.State);
        Assert.Equal(0.1, info.Config.GetProperty("lr").GetDouble());
        Assert.Equal(1000, history.Count);
        Assert.Equal(0.001, info.Summary.GetProperty("loss").GetDouble());
        Assert.Equal(Environment.MachineName, info.Host);
    }

    [Fact]
    public async Task Finish_WithNonZeroExitCode_IsFailed()
    {
        var key = await server.NewUserKeyAsync();
        var run = await Run.InitAsync(Options(key));
        run.Log("x", 1);

        await run.FinishAsync(2);
        await run.DisposeAsync();

        using var client = server.Client(key);
        var info = await client.GetRunAsync(run.Id);
        Assert.Equal("failed", info.State);
        Assert.Equal(2, info.ExitCode);
        Assert.Equal(0, info.LastStep);
    }

    [Fact]
    public async Task Log_NonFiniteValueIsStoredByName_AndAStepGoingBackIsDropped()
    {
        var key = await server.NewUserKeyAsync();
        string id;
        await using (var run = await Run.InitAsync(Options(key)))
        {
            id = run.Id;
            run.Log(new Dictionary<string, double> { ["loss"] = double.NaN, ["acc"] = 0.5 }, step: 5);
            run.Log(new Dictionary<string, double> { ["acc"] = 0.6 }, step: 3);
            run.Log("acc", 0.7);
        }

        using var client = server.Client(key);
        var history = await client.ReadHistoryAsync(id).ToListAsync();
        Assert.Equal([5L, 6], history.Select(r => r.Step));
        Assert.Equal("""{"loss":"NaN","acc":0.5}""", history[0].Values.GetRawText());
    }

    [Fact]
    public async Task StopRequest_CancelsTheStopToken_AndTheRunEndsKilled()
    {
        var key = await server.NewUserKeyAsync();
        await using var run = await Run.InitAsync(Options(key) with { HeartbeatInterval = TimeSpan.FromMilliseconds(100) });
        using var client = server.Client(key);

        await client.StopRunAsync(run.Id);
        var stopSeen = new TaskCompletionSource();
        using (run.StopRequested.Register(() => stopSeen.TrySetResult()))
        {
            await stopSeen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }

        await run.FinishAsync(130);

        Assert.Equal("killed", (await client.GetRunAsync(run.Id)).State);
    }

    [Fact]
    public async Task SummaryAndConfig_Updates_AreMerged()
    {
        var key = await server.NewUserKeyAsync();
        await using var run = await Run.InitAsync(Options(key) with { Config = new JsonObject { ["a"] = 1 } });

        await run.UpdateConfigAsync(new JsonObject { ["b"] = 2 });
        await run.SetSummaryAsync(new JsonObject { ["best"] = 0.9 });

        using var client = server.Client(key);
        var info = await client.GetRunAsync(run.Id);
        Assert.Equal("""{"a":1,"b":2}""", info.Config.GetRawText());
        Assert.Equal(0.9, info.Summary.GetProperty("best").GetDouble());
        Assert.Equal(2, run.Config["b"]!.GetValue<int>());
    }

    private RunOptions Options(string key) => new() { Settings = new LiftoffSettings(server.BaseUrl, key), CaptureConsole = false };
}

[CollectionDefinition(nameof(ConsoleCollection), DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>Console capture swaps the process-wide Console writers, so it runs alone.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class ConsoleCaptureTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Run_WithConsoleCapture_StoresLinesAndRestoresTheConsole()
    {
        var key = await server.NewUserKeyAsync();
        var original = Console.Out;
        string id;
        await using (var run = await Run.InitAsync(new RunOptions { Settings = new LiftoffSettings(server.BaseUrl, key), CaptureConsole = true }))
        {
            id = run.Id;
            Console.WriteLine("epoch 1 <done>");
            Console.Error.WriteLine("a warning");
            Console.WriteLine();
            Console.Write("partial");
        }

        Assert.Same(original, Console.Out);
        using var client = server.Client(key);
        var lines = await client.ReadLogsAsync(id).ToListAsync();
        Assert.Equal(["epoch 1 <done>", "", "partial"], lines.Where(l => l.Stream == "stdout").Select(l => l.Text));
        Assert.Equal(["a warning"], lines.Where(l => l.Stream == "stderr").Select(l => l.Text));
    }
}

/// <summary>A launched run's init reads LIFTOFF_RUN_ID from the process environment, so these run alone.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class LaunchedRunTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Init_InALaunchWithoutLiftoffConfig_TakesTheLaunchConfigFromThePendingRun()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        using var client = server.Client(key);
        await client.CreateQueueAsync(new CreateQueueRequest("q", Resources.LocalProcess));
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p", System.Text.Json.JsonDocument.Parse("""{"lr": 0.3}""").RootElement.Clone()));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a1", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        using (new EnvironmentScope(("LIFTOFF_RUN_ID", claim.Spec.RunId), ("LIFTOFF_CONFIG", null)))
        {
            await using var run = await Run.InitAsync(new RunOptions
            {
                Settings = new LiftoffSettings(server.BaseUrl, claim.Spec.Environment["LIFTOFF_API_KEY"]),
                CaptureConsole = false,
                Project = "p",
                Config = new JsonObject { ["lr"] = 0.1, ["epochs"] = 3 },
            });

            Assert.Equal(claim.Spec.RunId, run.Id);
            Assert.Equal(0.3, run.Config["lr"]!.GetValue<double>());
            Assert.Equal(3, run.Config["epochs"]!.GetValue<int>());
        }

        var stored = await client.GetRunAsync(claim.Spec.RunId);
        Assert.Equal(0.3, stored.Config.GetProperty("lr").GetDouble());
        Assert.Equal(3, stored.Config.GetProperty("epochs").GetInt32());
    }

    [Fact]
    public async Task LaunchedRun_UnderItsRunKey_LogsAndUsesArtifacts_ButCannotMoveTheOwnersAliases()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        using var client = server.Client(key);
        using var work = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(work.Path, "base"));
        await File.WriteAllTextAsync(Path.Combine(work.Path, "base", "rows.csv"), "a,b\n");
        await client.UploadArtifactAsync(Path.Combine(work.Path, "base"), "p", "base", new ArtifactUploadOptions("dataset") { Aliases = ["prod"] });
        await client.CreateQueueAsync(new CreateQueueRequest("q", Resources.LocalProcess));
        await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a1", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        Directory.CreateDirectory(Path.Combine(work.Path, "model"));
        await File.WriteAllTextAsync(Path.Combine(work.Path, "model", "w.bin"), "weights");
        using (new EnvironmentScope(("LIFTOFF_RUN_ID", claim.Spec.RunId), ("LIFTOFF_CONFIG", null)))
        {
            await using var run = await Run.InitAsync(new RunOptions
            {
                Settings = new LiftoffSettings(server.BaseUrl, claim.Spec.Environment["LIFTOFF_API_KEY"]),
                CaptureConsole = false,
                Project = "p",
            });

            var used = await run.UseArtifactAsync("base:prod");
            var root = await used.DownloadAsync(Path.Combine(work.Path, "out"));
            var logged = await run.LogArtifactAsync(Path.Combine(work.Path, "model"), "model", "model", ["candidate"]);
            var refused = await Assert.ThrowsAsync<LiftoffException>(() => run.LogArtifactAsync(Path.Combine(work.Path, "base"), "base", "dataset", ["prod"]));

            Assert.Equal("a,b\n", await File.ReadAllTextAsync(Path.Combine(root, "rows.csv")));
            Assert.Equal(claim.Spec.RunId, logged.ProducedBy);
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.StatusCode);
        }

        var artifacts = await client.ListRunArtifactsAsync(claim.Spec.RunId);
        Assert.Equal(["base"], artifacts.Used.Select(v => v.Name));
        Assert.Equal(["model"], artifacts.Produced.Select(v => v.Name));
    }
}
