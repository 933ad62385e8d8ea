using System.Diagnostics;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.PythonSdk.Tests;

/// <summary>The Python SDK driven by the real python3 against the real server.</summary>
public sealed class TrackingTests(FastCrashServerFixture server) : IClassFixture<FastCrashServerFixture>
{
    [Fact]
    public async Task Script_LoggingAThousandSteps_IsFinishedWithHistorySummaryConsoleAndRuntime()
    {
        var key = await server.NewUserKeyAsync();
        var result = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="mnist", config={"lr": 0.1})
            print("run-id", run.id)
            for s in range(1000):
                liftoff.log({"loss": 1 / (s + 1)})
            print("training done")
            liftoff.finish()
            """, server.PythonEnv(key));
        Assert.True(result.ExitCode == 0, result.ToString());
        var id = RunId(result);
        using var client = server.Client(key);

        var run = await client.GetRunAsync(id);
        var history = await client.ReadHistoryAsync(id).ToListAsync();
        var console = await client.ReadLogsAsync(id).ToListAsync();

        Assert.Equal("finished", run.State);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("mnist", run.Project);
        Assert.Equal(0.1, run.Config.GetProperty("lr").GetDouble());
        Assert.Equal(1000, history.Count);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), history.Select(r => r.Step));
        Assert.Equal(1.0 / 1000, run.Summary.GetProperty("loss").GetDouble());
        Assert.Equal(0.5, history[1].Values.GetProperty("loss").GetDouble());
        Assert.Contains(console, l => l.Text == "training done" && l.Stream == "stdout");
        Assert.Matches(@"^3\.\d+\.\d+", run.PythonVersion);
        Assert.False(string.IsNullOrEmpty(run.Host));
        Assert.NotNull(run.StartedAt);
        Assert.True(run.EndedAt >= run.StartedAt);
    }

    [Fact]
    public async Task Script_ThatRaises_IsFailedWithExitCodeAndTracebackInConsole()
    {
        var key = await server.NewUserKeyAsync();
        var result = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="p")
            print("run-id", run.id)
            liftoff.log({"x": 1})
            raise ValueError("diverged")
            """, server.PythonEnv(key));
        Assert.Equal(1, result.ExitCode);
        using var client = server.Client(key);
        var id = RunId(result);

        var run = await client.GetRunAsync(id);
        var console = await client.ReadLogsAsync(id).ToListAsync();

        Assert.Equal("failed", run.State);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(console, l => l.Stream == "stderr" && l.Text.Contains("ValueError: diverged", StringComparison.Ordinal));
        Assert.Contains("ValueError: diverged", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Script_CallingSysExit_IsFailedWithThatExitCode()
    {
        var key = await server.NewUserKeyAsync();
        var result = await Python.RunAsync("""
            import sys, liftoff
            run = liftoff.init(project="p")
            print("run-id", run.id)
            sys.exit(3)
            """, server.PythonEnv(key));
        Assert.Equal(3, result.ExitCode);
        using var client = server.Client(key);

        var run = await client.GetRunAsync(RunId(result));

        Assert.Equal("failed", run.State);
        Assert.Equal(3, run.ExitCode);
    }

    [Fact]
    public async Task Script_EndingWithoutFinish_IsFinishedAtExit()
    {
        var key = await server.NewUserKeyAsync();
        var result = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="p")
            print("run-id", run.id)
            liftoff.log({"x": 1})
            """, server.PythonEnv(key));
        Assert.True(result.ExitCode == 0, result.ToString());
        using var client = server.Client(key);

        var run = await client.GetRunAsync(RunId(result));

        Assert.Equal("finished", run.State);
        Assert.Equal(0, run.LastStep);
    }

    [Fact]
    public async Task Script_KilledWithSigkill_BecomesCrashedOnceHeartbeatsStop()
    {
        var (key, process, id) = await StartLoggingScriptAsync();
        using var _ = process;
        using var client = server.Client(key);
        Assert.Equal("running", (await client.GetRunAsync(id)).State);

        process.Kill();
        await process.WaitForExitAsync();

        var crashed = await Poll.UntilAsync(() => client.GetRunAsync(id), r => r.State == "crashed", TimeSpan.FromSeconds(30), "the killed run to crash");
        Assert.Null(crashed.ExitCode);
    }

    [Fact]
    public async Task Script_AskedToStop_IsInterruptedAndKilled()
    {
        var (key, process, id) = await StartLoggingScriptAsync();
        using var _ = process;
        using var client = server.Client(key);

        await client.StopRunAsync(id);

        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(exited.Token);
        var run = await Poll.UntilAsync(() => client.GetRunAsync(id), r => r.State != "running", TimeSpan.FromSeconds(30), "the stopped run to end");
        Assert.Equal("killed", run.State);
        Assert.NotEqual(0, process.ExitCode);
    }

    [Fact]
    public async Task Script_StartedWithSigintIgnored_IsStillInterruptedAndKilled()
    {
        var (key, process, id) = await StartLoggingScriptAsync(sigintIgnored: true);
        using var _ = process;
        using var client = server.Client(key);

        await client.StopRunAsync(id);

        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(exited.Token);
        var run = await Poll.UntilAsync(() => client.GetRunAsync(id), r => r.State != "running", TimeSpan.FromSeconds(30), "the stopped run to end");
        Assert.Equal("killed", run.State);
        Assert.NotEqual(0, process.ExitCode);
    }

    [Fact]
    public async Task LaunchConfig_OverridesTheScriptsConfig()
    {
        var key = await server.NewUserKeyAsync();
        var result = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="p", config={"lr": 0.1, "epochs": 3})
            print("run-id", run.id)
            print("lr", run.config["lr"], liftoff.config.epochs)
            liftoff.finish()
            """, server.PythonEnv(key, ("LIFTOFF_CONFIG", """{"lr": 0.5}""")));
        Assert.True(result.ExitCode == 0, result.ToString());
        using var client = server.Client(key);

        var run = await client.GetRunAsync(RunId(result));

        Assert.Contains("lr 0.5 3", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("""{"lr":0.5,"epochs":3}""", run.Config.GetRawText());
    }

    [Fact]
    public async Task Init_OnARankOtherThanZero_ReportsNothing_UnlessTheJobAsksForEveryRank()
    {
        const string script = """
            import liftoff
            run = liftoff.init(project="ranks")
            print("disabled", run.disabled)
            liftoff.log({"loss": 0.5})
            liftoff.finish()
            """;
        var silentKey = await server.NewUserKeyAsync();
        var reportingKey = await server.NewUserKeyAsync();
        var rankZeroKey = await server.NewUserKeyAsync();

        var silent = await Python.RunAsync(script, server.PythonEnv(silentKey, ("LIFTOFF_RANK", "1")));
        var reporting = await Python.RunAsync(script, server.PythonEnv(reportingKey, ("LIFTOFF_RANK", "1"), ("LIFTOFF_ALL_RANKS", "1")));
        var rankZero = await Python.RunAsync(script, server.PythonEnv(rankZeroKey, ("LIFTOFF_RANK", "0")));
        Assert.True(silent.ExitCode == 0, silent.ToString());
        Assert.True(reporting.ExitCode == 0, reporting.ToString());
        Assert.True(rankZero.ExitCode == 0, rankZero.ToString());
        using var silentClient = server.Client(silentKey);
        using var reportingClient = server.Client(reportingKey);
        using var rankZeroClient = server.Client(rankZeroKey);

        Assert.Contains("disabled True", silent.Stdout, StringComparison.Ordinal);
        Assert.Empty((await silentClient.ListRunsAsync("ranks")).Runs);
        Assert.Single((await reportingClient.ListRunsAsync("ranks")).Runs);
        Assert.Single((await rankZeroClient.ListRunsAsync("ranks")).Runs);
    }

    [Fact]
    public async Task NonFiniteValues_AreStoredAsTheirNames()
    {
        var key = await server.NewUserKeyAsync();
        var result = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="p")
            print("run-id", run.id)
            for s in range(5):
                liftoff.log({"loss": float("nan"), "acc": 0.5, "big": float("inf")})
            liftoff.finish()
            """, server.PythonEnv(key));
        Assert.True(result.ExitCode == 0, result.ToString());
        using var client = server.Client(key);
        var id = RunId(result);

        var run = await client.GetRunAsync(id);
        var history = await client.ReadHistoryAsync(id).ToListAsync();

        Assert.Equal("finished", run.State);
        Assert.Equal(5, history.Count);
        Assert.All(history, r => Assert.Equal("""{"loss":"NaN","acc":0.5,"big":"Infinity"}""", r.Values.GetRawText()));
        Assert.Equal("NaN", run.Summary.GetProperty("loss").GetString());
    }

    [Fact]
    public async Task Summary_And_ConfigUpdates_ReachTheServer()
    {
        var key = await server.NewUserKeyAsync();
        var result = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="p", config={"a": 1})
            print("run-id", run.id)
            run.config.update({"b": 2})
            liftoff.log({"loss": 0.3})
            run.summary["best"] = 0.1
            liftoff.finish()
            """, server.PythonEnv(key));
        Assert.True(result.ExitCode == 0, result.ToString());
        using var client = server.Client(key);

        var run = await client.GetRunAsync(RunId(result));

        Assert.Equal(2, run.Config.GetProperty("b").GetInt32());
        Assert.Equal(0.1, run.Summary.GetProperty("best").GetDouble());
        Assert.Equal(0.3, run.Summary.GetProperty("loss").GetDouble());
    }

    [Fact]
    public async Task Init_WithoutSettings_FailsWithAnActionableMessage()
    {
        using var home = new TempDirectory();
        var result = await Python.RunAsync("import liftoff; liftoff.init(project='p')", new Dictionary<string, string?> { ["HOME"] = home.Path, ["XDG_CONFIG_HOME"] = null });
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("liftoff login", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_WithWrongKey_FailsWithoutPrintingTheKey()
    {
        const string wrong = "local-abcdefghijklmnopqrstuvwxyz0123456789abcd";
        var result = await Python.RunAsync("import liftoff; liftoff.init(project='p')", server.PythonEnv(wrong));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("not valid", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// A script that heartbeats every 0.3 s and logs until it is stopped; returns once it has logged. With
    /// <paramref name="sigintIgnored"/> it starts with SIGINT ignored, as <c>&amp;</c> in a non-interactive shell starts it:
    /// a wrapper sets SIG_IGN and execs python, which inherits it.
    /// </summary>
    private async Task<(string Key, System.Diagnostics.Process Process, string RunId)> StartLoggingScriptAsync(bool sigintIgnored = false)
    {
        var key = await server.NewUserKeyAsync();
        string[] script = ["-c", """
            import time, liftoff
            run = liftoff.init(project="p")
            print("run-id", run.id, flush=True)
            for s in range(100000):
                liftoff.log({"x": s})
                time.sleep(0.01)
            """];
        string[] wrapper = sigintIgnored
            ? ["-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])", .. script]
            : script;
        var process = ProcessRunner.Start(Python.Executable, wrapper, Python.Environment(server.PythonEnv(key, ("LIFTOFF_HEARTBEAT_SECONDS", "0.3"))));
        var id = (await process.StandardOutput.ReadLineAsync())!.Split(' ')[1];
        using var client = server.Client(key);
        await Poll.UntilAsync(() => client.GetRunAsync(id), r => r.LastStep > 0, TimeSpan.FromSeconds(30), "the script to log");
        return (key, process, id);
    }

    private static string RunId(ProcessResult result) =>
        result.Stdout.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("run-id ", StringComparison.Ordinal))["run-id ".Length..];

}
