using System.Globalization;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Server.Storage;
using Liftoff.Targets;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Agent.Tests;

public sealed class LocalProcessTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly string[] PythonTrain = ["python", "train.py"];

    [Fact]
    public async Task Agent_GivesTheJobOnlyTheAllowedVariablesOfItsOwnEnvironment()
    {
        await using var harness = await AgentHarness.StartAsync(server, queueConfigJson: """{"env": {"FROM_QUEUE": "q1"}}""");
        var job = await harness.CreateJobAsync("env", new Dictionary<string, string>
        {
            ["train.py"] = """
                import os, liftoff
                liftoff.init()
                print("leaked:", [n for n in ("TEST_AGENT_SECRET", "LIFTOFF_TEST_AGENT_SECRET") if n in os.environ])
                print("given:", os.environ.get("FROM_QUEUE"), bool(os.environ.get("HOME")), bool(os.environ.get("PATH")), os.environ.get("LANG"))
                liftoff.finish()
                """,
        }, PythonTrain);
        var config = harness.Work.File("agent.yaml", $"""
            queues: [{harness.Queue}]
            python: {Python.Executable}
            """);
        using var agent = AgentProcess.Start(server.BaseUrl, harness.Key, new Dictionary<string, string?>
        {
            ["TEST_AGENT_SECRET"] = "agent-only-1",
            ["LIFTOFF_TEST_AGENT_SECRET"] = "agent-only-2",
            ["LANG"] = "C.UTF-8",
        }, "--config", config, "--work-dir", Path.Combine(harness.Work.Path, "agent"));

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        var logs = await harness.LogsAsync(done.RunId!);
        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}\n{logs}\n{agent.Output}");
        Assert.Contains("leaked: []", logs, StringComparison.Ordinal);
        Assert.Contains("given: q1 True True C.UTF-8", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_WhenAnArtifactJobIsEnqueued_RunsItWithTheLaunchConfigAndCapturesTheConsole()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var job = await harness.CreateJobAsync("train", new Dictionary<string, string>
        {
            ["train.py"] = """
                import sys
                import liftoff
                run = liftoff.init(config={"lr": 0.1, "epochs": 2})
                print("training with lr", run.config["lr"], "from", sys.executable)
                print("a warning", file=sys.stderr)
                for step in range(3):
                    liftoff.log({"loss": 1.0 / (step + 1)})
                liftoff.finish()
                """,
        }, PythonTrain);
        await harness.StartAgentAsync();

        var item = await harness.EnqueueAsync(job, """{"lr": 0.5}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        var run = await harness.Client.GetRunAsync(done.RunId!);
        Assert.Equal(RunStates.Finished, run.State);
        Assert.Equal(0.5, run.Config.GetProperty("lr").GetDouble());
        Assert.Equal(2, run.Config.GetProperty("epochs").GetInt32());
        Assert.Equal(AgentHarness.Project, run.Project);
        var logs = await harness.LogsAsync(run.Id);
        Assert.Contains("training with lr 0.5 from " + Path.Combine(harness.Work.Path, "venvs"), logs, StringComparison.Ordinal);
        Assert.Contains("a warning", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_WhenAGitJobIsEnqueued_RunsItAtTheRecordedCommitInItsSubdir()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var repo = new TempDirectory();
        repo.File("jobs/train.py", "import os, liftoff\nliftoff.init()\nprint('version one in', os.path.basename(os.getcwd()))\nliftoff.finish()\n");
        await GitAsync(repo.Path, "init", "-q");
        await GitAsync(repo.Path, "add", ".");
        await GitAsync(repo.Path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one");
        var commit = (await GitAsync(repo.Path, "rev-parse", "HEAD")).Trim();
        repo.File("jobs/train.py", "print('version two must not run')\n");
        await GitAsync(repo.Path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "two");
        await using var host = new GitHttpServer(Path.GetDirectoryName(repo.Path)!);
        await harness.Client.CreateJobAsync(new CreateJobRequest(AgentHarness.Project, "from-git", new JobDefinition(
            JobSourceTypes.Repo,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["remote"] = host.BaseUrl + Path.GetFileName(repo.Path), ["commit"] = commit, ["subdir"] = "jobs" }),
            PythonTrain)));
        await harness.StartAgentAsync();

        foreach (var attempt in (int[])[1, 2])
        {
            var item = await harness.EnqueueAsync("from-git");
            var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, $"item {attempt} to end");

            Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
            Assert.Contains("version one in jobs", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        }

        Assert.Single(Directory.GetDirectories(Path.Combine(harness.Work.Path, "git")));
    }

    [Fact]
    public async Task Agent_WhenTheEntrypointFails_FailsTheItemInTheRunPhaseWithTheStderrTail()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var job = await harness.CreateJobAsync("crash", new Dictionary<string, string>
        {
            ["train.py"] = """
                import liftoff
                liftoff.init()
                raise RuntimeError("the data loader found no files")
                """,
        }, PythonTrain);
        await harness.StartAgentAsync();

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Run, done.Phase);
        Assert.Contains("exited with code 1", done.Error, StringComparison.Ordinal);
        Assert.Contains("RuntimeError: the data loader found no files", done.Error, StringComparison.Ordinal);
        Assert.Equal(RunStates.Failed, (await harness.Client.GetRunAsync(done.RunId!)).State);
    }

    [Fact]
    public async Task Agent_WhenTheJobNeverCallsInit_FailsTheItemAndKeepsTheConsole()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var job = await harness.CreateJobAsync("no-init", new Dictionary<string, string> { ["train.py"] = "print('forgot to call init')\n" }, PythonTrain);
        await harness.StartAgentAsync();

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Run, done.Phase);
        Assert.StartsWith("the job never called init", done.Error, StringComparison.Ordinal);
        Assert.Contains("forgot to call init", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_WhenTheRequirementsCannotBeInstalled_FailsTheItemInTheBuildPhase()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var wheels = new TempDirectory();
        var job = await harness.CreateJobAsync("bad-reqs", new Dictionary<string, string> { ["train.py"] = "import liftoff\nliftoff.init()\n" }, PythonTrain,
            requirements: "liftoff-no-such-package-anywhere==1.0\n");
        var options = harness.Options();
        await harness.StartAgentAsync(options);

        // An offline index (a directory with nothing in it): pip's settings come from the agent's environment.
        using (new EnvironmentScope(("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", wheels.Path)))
        {
            var item = await harness.EnqueueAsync(job);
            var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end", 120);

            Assert.Equal(ItemStates.Failed, done.State);
            Assert.Equal(ItemPhases.Build, done.Phase);
            Assert.Contains("pip install -r requirements.txt failed", done.Error, StringComparison.Ordinal);
            Assert.Contains("liftoff-no-such-package-anywhere", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
            Assert.Empty(Directory.GetDirectories(Path.Combine(options.WorkDirectory, "venvs")));
        }
    }

    [Theory]
    [InlineData("path")]
    [InlineData("file-url")]
    public async Task Agent_WhenAStoredGitJobNamesARepositoryOnItsMachine_RefusesToCloneIt(string form)
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var repo = new TempDirectory();
        var commit = await CommitAsync(repo, "print('read from the agent host')\n");
        var item = await EnqueueStoredGitJobAsync(harness, form == "path" ? repo.Path : "file://" + repo.Path, commit);
        await harness.StartAgentAsync();

        var done = await harness.WaitForItemAsync(item, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Pull, done.Phase);
        Assert.Contains("this agent refuses the job's git remote", done.Error, StringComparison.Ordinal);
        Assert.Contains("allow_local_git_remotes: true", done.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(harness.Work.Path, "git")), "nothing was cloned");
    }

    [Fact]
    public async Task Agent_WhenItsConfigAllowsLocalGitRemotes_RunsAStoredJobFromALocalPath()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var repo = new TempDirectory();
        var commit = await CommitAsync(repo, "import liftoff\nliftoff.init()\nprint('cloned from this host')\nliftoff.finish()\n");
        var item = await EnqueueStoredGitJobAsync(harness, repo.Path, commit);
        var options = harness.Options();
        AgentConfigFile.Apply("allow_local_git_remotes: true\n", "agent.yaml", options);
        await harness.StartAgentAsync(options);

        var done = await harness.WaitForItemAsync(item, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.Contains("cloned from this host", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_EvenWhenItAllowsLocalGitRemotes_GitItselfRefusesOtherTransports()
    {
        await using var harness = await AgentHarness.StartAsync(server);
        var item = await EnqueueStoredGitJobAsync(harness, "fd::0", new string('a', 40));
        var options = harness.Options();
        options.AllowLocalGitRemotes = true;
        await harness.StartAgentAsync(options);

        var done = await harness.WaitForItemAsync(item, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Pull, done.Phase);
        Assert.Contains("transport 'fd' not allowed", done.Error, StringComparison.Ordinal);
    }

    private static async Task<string> CommitAsync(TempDirectory repo, string train)
    {
        repo.File("train.py", train);
        await GitAsync(repo.Path, "init", "-q");
        await GitAsync(repo.Path, "add", ".");
        await GitAsync(repo.Path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one");
        return (await GitAsync(repo.Path, "rev-parse", "HEAD")).Trim();
    }

    /// <summary>
    /// A pending item of a git job from <paramref name="remote"/> on the harness's queue, written straight into the store
    /// as a server from before remotes were checked would have stored it (today's server refuses such a job).
    /// </summary>
    private async Task<string> EnqueueStoredGitJobAsync(AgentHarness harness, string remote, string commit)
    {
        var aside = "q" + Guid.NewGuid().ToString("N")[..8];
        await harness.Client.CreateQueueAsync(new CreateQueueRequest(aside, Resources.LocalProcess));
        await harness.Client.CreateJobAsync(new CreateJobRequest(AgentHarness.Project, "old-git", new JobDefinition(
            JobSourceTypes.Repo, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["remote"] = "https://git.example/org/old.git", ["commit"] = commit }), PythonTrain)));
        var template = await harness.Client.EnqueueAsync(aside, new EnqueueRequest("old-git", AgentHarness.Project));
        var services = server.Server.Services;
        var entityId = (await services.GetRequiredService<IIdentityStore>().FindEntityAsync(template.Entity, default))!.Id;
        var queues = services.GetRequiredService<IQueueStore>();
        var stored = (await queues.GetItemAsync(entityId, template.Id, default))!;
        var queue = (await queues.GetQueueAsync(entityId, harness.Queue, default))!;
        var definition = JsonSerializer.Deserialize<JsonElement>(stored.JobDefinitionJson);
        var local = JsonSerializer.Serialize(new
        {
            source_type = JobSourceTypes.Repo,
            source = new { remote, commit },
            entrypoint = definition.GetProperty("entrypoint"),
            input_types = definition.GetProperty("input_types"),
        });
        var (item, _) = await queues.EnqueueAsync(entityId, queue.Id, stored with
        {
            Id = "item_" + Guid.NewGuid().ToString("N"), Queue = harness.Queue, JobDefinitionJson = local, IdempotencyKey = null,
        }, default);
        return item.Id;
    }

    private static async Task<string> GitAsync(string directory, params string[] args)
    {
        var result = await ProcessRunner.RunAsync("git", ["-C", directory, .. args]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }

    [Theory]
    [InlineData("runs stop")]
    [InlineData("queue cancel")]
    public async Task Agent_WhenTheRunIsStopped_KillsTheWholeProcessTree(string how)
    {
        await using var harness = await AgentHarness.StartAsync(server);
        using var pids = new TempDirectory();
        var job = await harness.CreateJobAsync("stubborn", new Dictionary<string, string>
        {
            ["train.py"] = $$"""
                import os, signal, subprocess, time
                import liftoff
                liftoff.init()
                # Deaf to the polite signals: only the forced stop ends it.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                child = subprocess.Popen(["sleep", "300"])
                with open(os.path.join({{JsonSerializer.Serialize(pids.Path)}}, "pids.tmp"), "w") as f:
                    f.write(f"{os.getpid()} {child.pid}")
                os.rename(os.path.join({{JsonSerializer.Serialize(pids.Path)}}, "pids.tmp"), os.path.join({{JsonSerializer.Serialize(pids.Path)}}, "pids"))
                while True:
                    time.sleep(0.1)
                """,
        }, PythonTrain);
        await harness.StartAgentAsync();
        var item = await harness.EnqueueAsync(job);
        var pidFile = Path.Combine(pids.Path, "pids");
        await Poll.UntilAsync(() => Task.FromResult(File.Exists(pidFile)), e => e, TimeSpan.FromSeconds(60), "the job to start its child");
        var processes = (await File.ReadAllTextAsync(pidFile)).Split(' ').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        Assert.All(processes, pid => Assert.True(Processes.IsAlive(pid)));
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running, "the item to be running");

        if (how == "runs stop")
        {
            await harness.Client.StopRunAsync(running.RunId!);
        }
        else
        {
            await harness.Client.CancelItemAsync(item.Id);
        }

        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to end");
        Assert.Equal(ItemStates.Cancelled, done.State);
        Assert.All(processes, pid => Assert.False(Processes.IsAlive(pid), $"process {pid} survived the stop"));
        Assert.Equal(RunStates.Killed, (await harness.Client.GetRunAsync(done.RunId!)).State);
    }
}
