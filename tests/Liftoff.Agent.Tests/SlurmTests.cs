using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets;
using Liftoff.Targets.Slurm;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

/// <summary>
/// The slurm runner through the real agent and server against the real single-machine Slurm cluster of
/// <c>scripts/setup/slurm.sh</c>: jobs are submitted with sbatch, run by slurmd under srun, watched with squeue.
/// </summary>
public sealed partial class SlurmTests(ServerFixture server, SlurmClusterFixture cluster) : IClassFixture<ServerFixture>, IClassFixture<SlurmClusterFixture>
{
    [Fact]
    public async Task Agent_RunsACodeJobInTheChosenPartition_StreamingItsOutputBeforeItEnds_WithTheKeyOnlyInAPrivateFile()
    {
        await using var harness = await SlurmHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var proceed = Path.Combine(marks.Path, "proceed");
        var job = await CreateJobAsync(harness, "train", $$"""
            import os, time, liftoff
            run = liftoff.init()
            print("first line of run", run.id, flush=True)
            while not os.path.exists({{JsonSerializer.Serialize(proceed)}}):
                time.sleep(0.05)
            print("partition", os.environ["SLURM_JOB_PARTITION"], "rank", os.environ["LIFTOFF_RANK"], "of", os.environ["WORLD_SIZE"])
            liftoff.log({"loss": 0.5})
            liftoff.finish()
            """);
        await StartAgentAsync(harness);

        var item = await SlurmHarness.EnqueueAsync(harness, job, """{"partition": "batch"}""");
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running && i.RunId is not null, "the item to run");
        await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("first line of run", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the job's first line while it still runs");
        var attempt = Assert.Single(Directory.GetDirectories(Path.Combine(cluster.Workdir, "attempts")));
        var secrets = File.ReadAllText(Path.Combine(attempt, "secrets.env"));
        var key = Assert.Single(KeyLine().Matches(secrets)).Groups[1].Value;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(attempt, "secrets.env")));
        Assert.DoesNotContain(key, File.ReadAllText(Path.Combine(attempt, "job.sh")), StringComparison.Ordinal);
        Assert.Equal("RUNNING", (await SqueueAsync(JobId(await harness.LogsAsync(running.RunId!)))).State);
        File.WriteAllText(proceed, "");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.Equal(RunStates.Finished, (await harness.Client.GetRunAsync(done.RunId!)).State);
        var logs = await harness.LogsAsync(done.RunId!);
        Assert.Contains($"first line of run {done.RunId}", logs, StringComparison.Ordinal);
        Assert.Contains("partition batch rank 0 of 1", logs, StringComparison.Ordinal);
        Assert.Equal("batch", (await SqueueAsync(JobId(logs))).Partition);
        Assert.DoesNotContain(key, logs, StringComparison.Ordinal);
        Assert.False(Directory.Exists(attempt), "the attempt's folder, with its secrets file, is removed once the job ended");
    }

    [Fact]
    public async Task Agent_WhenTheJobExitsNonZero_FailsTheItemInRunWithTheExitCode()
    {
        await using var harness = await SlurmHarness.StartAsync(server);
        var job = await CreateJobAsync(harness, "fails", """
            import sys, liftoff
            liftoff.init()
            print("about to fail", flush=True)
            sys.exit(3)
            """);
        await StartAgentAsync(harness);

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.Equal(ItemStates.Failed, done.State);
        Assert.Equal(ItemPhases.Run, done.Phase);
        Assert.Contains("exited with code 3", done.Error, StringComparison.Ordinal);
        Assert.Contains("about to fail", await harness.LogsAsync(done.RunId!), StringComparison.Ordinal);
        Assert.Equal("FAILED", (await SqueueAsync(JobId(await harness.LogsAsync(done.RunId!)))).State);
    }

    [Fact]
    public async Task Agent_WhenTheJobIsSentToADownPartition_ShowsThePendingReason_AndCancelsItBeforeItStarts()
    {
        await using var harness = await SlurmHarness.StartAsync(server);
        var job = await CreateJobAsync(harness, "never-starts", "print('never runs')");
        await StartAgentAsync(harness);

        var item = await SlurmHarness.EnqueueAsync(harness, job, $$"""{"partition": "{{SlurmClusterFixture.HeldPartition}}"}""");
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running && i.RunId is not null, "the job to be submitted");
        var logs = await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("is pending: " + SlurmClusterFixture.HeldReason, StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the pending reason in the run's console");
        var jobId = JobId(logs);
        Assert.Equal("PENDING", (await SqueueAsync(jobId)).State);
        var waiting = await harness.WaitForItemAsync(item.Id, i => i.WaitingReason is not null, "the pending reason on the item");
        Assert.Equal(SlurmClusterFixture.HeldReason, waiting.WaitingReason);
        var describe = await CliAsync(harness, "queue", "describe", harness.Queue);
        Assert.True(describe.ExitCode == 0, describe.ToString());
        Assert.Contains("WAITING FOR", describe.Stdout, StringComparison.Ordinal);
        Assert.Contains(describe.Stdout.Split('\n'), l => l.Contains(item.Id, StringComparison.Ordinal) && l.Contains(SlurmClusterFixture.HeldReason, StringComparison.Ordinal));
        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to be cancelled");

        Assert.Equal(ItemStates.Cancelled, done.State);
        Assert.Null(done.WaitingReason);
        Assert.Equal("CANCELLED", (await SqueueAsync(jobId)).State);
        Assert.Empty(Directory.GetDirectories(Path.Combine(cluster.Workdir, "attempts")));
    }

    [Fact]
    public async Task Agent_WhenARunningJobIsCancelled_SendsTheQueuesGraceSignalFirst_ThenEndsTheSlurmJob()
    {
        // Slurm's own cancel starts with SIGTERM, so the queue's signal (USR1) is what shows the grace step ran.
        await using var harness = await SlurmHarness.StartAsync(server, """{"signal": "USR1@60"}""");
        var job = await CreateJobAsync(harness, "long", """
            import signal, sys, time, liftoff
            liftoff.init()
            def usr1(*_):
                print("got SIGUSR1, saving", flush=True)
                sys.exit(0)
            signal.signal(signal.SIGUSR1, usr1)
            print("started", flush=True)
            time.sleep(300)
            """);
        await StartAgentAsync(harness);

        var item = await harness.EnqueueAsync(job);
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running && i.RunId is not null, "the item to run");
        var logs = await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("started", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the job's first line");
        await harness.Client.CancelItemAsync(item.Id);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Cancelled or ItemStates.Failed or ItemStates.Finished, "the item to be cancelled");

        Assert.Equal(ItemStates.Cancelled, done.State);
        Assert.Contains("got SIGUSR1, saving", await harness.LogsAsync(running.RunId!), StringComparison.Ordinal);
        var slurm = await SqueueAsync(JobId(logs));
        Assert.True(slurm.State is "COMPLETED" or "CANCELLED" or "FAILED", $"the Slurm job is {slurm.State}, not ended");
    }

    [Fact]
    public async Task Agent_WithTwoTasks_RunsTwoRanksUnderSrun_ReportingOneRun()
    {
        await using var harness = await SlurmHarness.StartAsync(server);
        var job = await CreateJobAsync(harness, "ranks", """
            import os, liftoff
            run = liftoff.init()
            print("rank", os.environ["LIFTOFF_RANK"], "of", os.environ["WORLD_SIZE"], "procid", os.environ["SLURM_PROCID"], flush=True)
            liftoff.log({"rank": int(os.environ["LIFTOFF_RANK"])})
            liftoff.finish()
            """);
        await StartAgentAsync(harness);

        var item = await SlurmHarness.EnqueueAsync(harness, job, """{"ntasks": 2}""");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        var logs = await harness.LogsAsync(done.RunId!);
        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}\n{logs}");
        Assert.Contains("rank 0 of 2 procid 0", logs, StringComparison.Ordinal);
        Assert.Contains("rank 1 of 2 procid 1", logs, StringComparison.Ordinal);
        var run = Assert.Single((await harness.Client.ListRunsAsync(AgentHarness.Project)).Runs);
        Assert.Equal(done.RunId, run.Id);
        Assert.Equal(RunStates.Finished, run.State);
    }

    [Fact]
    public async Task Agent_KilledAndRestarted_ReattachesToItsSlurmJobByComment()
    {
        await using var harness = await SlurmHarness.StartAsync(server);
        using var marks = new TempDirectory();
        var proceed = Path.Combine(marks.Path, "proceed");
        var job = await CreateJobAsync(harness, "survivor", $$"""
            import os, time, liftoff
            liftoff.init()
            print("before the agent died", flush=True)
            while not os.path.exists({{JsonSerializer.Serialize(proceed)}}):
                time.sleep(0.05)
            print("after the agent came back", flush=True)
            liftoff.finish()
            """);
        var config = marks.File("agent.yaml", $"""
            name: slurm-agent
            queues: [{harness.Queue}]
            python: {Python.Executable}
            slurm:
              workdir: {cluster.Workdir}
              poll_interval: 0.2
            """);
        var item = await harness.EnqueueAsync(job);
        string jobId;
        string runId;
        using (var first = AgentProcess.Start(server.BaseUrl, harness.Key, "--config", config, "--work-dir", Path.Combine(harness.Work.Path, "first")))
        {
            var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running && i.RunId is not null, "the first agent to submit the job");
            runId = running.RunId!;
            var logs = await Poll.UntilAsync(() => harness.LogsAsync(runId), l => l.Contains("before the agent died", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the job's first line");
            jobId = JobId(logs);
            first.Signal("KILL");
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Equal("RUNNING", (await SqueueAsync(jobId)).State);
        await StartAgentAsync(harness, "slurm-agent");
        await Poll.UntilAsync(() => harness.LogsAsync(runId), l => l.Contains("re-attached to Slurm job " + jobId, StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the new agent to re-attach");
        File.WriteAllText(proceed, "");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}");
        Assert.Equal(1, done.Attempt);
        var final = await harness.LogsAsync(done.RunId!);
        Assert.Contains("after the agent came back", final, StringComparison.Ordinal);
        Assert.Single(final.Split('\n'), l => l == "before the agent died");
        Assert.Single(final.Split('\n'), l => l.Contains("submitted Slurm job", StringComparison.Ordinal));
        Assert.Equal(RunStates.Finished, (await harness.Client.GetRunAsync(done.RunId!)).State);
    }

    [Fact]
    public async Task Agent_SubmitsExactlyTheDryRunsScript_AndTheJobGetsNoneOfTheAgentsOwnEnvironment()
    {
        await using var harness = await SlurmHarness.StartAsync(server, """{"partition": "debug", "env": {"FROM_QUEUE": "q1"}, "setup": ["export FROM_SETUP=s1"]}""");
        using var marks = new TempDirectory();
        var proceed = Path.Combine(marks.Path, "proceed");
        var job = await CreateJobAsync(harness, "env", $$"""
            import os, sys, time, liftoff
            liftoff.init()
            print("leaked:", [n for n in ("TEST_AGENT_SECRET", "LIFTOFF_TEST_AGENT_SECRET") if n in os.environ], flush=True)
            print("given:", os.environ.get("FROM_QUEUE"), os.environ.get("FROM_SETUP"), bool(os.environ.get("HOME")), bool(os.environ.get("PATH")), sys.prefix == os.environ.get("VIRTUAL_ENV"), flush=True)
            while not os.path.exists({{JsonSerializer.Serialize(proceed)}}):
                time.sleep(0.05)
            liftoff.finish()
            """);
        var request = new EnqueueRequest(job, AgentHarness.Project, ResourceArgs: JsonDocument.Parse("""{"ntasks": 1}""").RootElement.Clone());
        var dryRun = TargetRegistry.Find(SlurmHarness.Resource)!.RenderDryRun(await harness.Client.DryRunAsync(harness.Queue, request));
        var config = marks.File("agent.yaml", $"""
            name: env-agent
            queues: [{harness.Queue}]
            python: {Python.Executable}
            slurm:
              workdir: {cluster.Workdir}
              poll_interval: 0.2
            """);
        using var agent = AgentProcess.Start(server.BaseUrl, harness.Key, new Dictionary<string, string?>
        {
            ["TEST_AGENT_SECRET"] = "agent-only-1",
            ["LIFTOFF_TEST_AGENT_SECRET"] = "agent-only-2",
        }, "--config", config, "--work-dir", Path.Combine(harness.Work.Path, "agent"));

        var item = await harness.Client.EnqueueAsync(harness.Queue, request);
        var running = await harness.WaitForItemAsync(item.Id, i => i.State == ItemStates.Running && i.RunId is not null, "the item to run");
        await Poll.UntilAsync(() => harness.LogsAsync(running.RunId!), l => l.Contains("given:", StringComparison.Ordinal), TimeSpan.FromSeconds(90), "the job's lines");
        var attempt = Assert.Single(Directory.GetDirectories(Path.Combine(cluster.Workdir, "attempts")));
        var submitted = File.ReadAllText(Path.Combine(attempt, "job.sh"));
        File.WriteAllText(proceed, "");
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        var logs = await harness.LogsAsync(done.RunId!);
        Assert.True(done.State == ItemStates.Finished, $"{done.State} {done.Phase}: {done.Error}\n{logs}\n{agent.Output}");
        Assert.Contains("leaked: []", logs, StringComparison.Ordinal);
        Assert.Contains("given: q1 s1 True True True", logs, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --export=\"NONE\"", submitted, StringComparison.Ordinal);
        Assert.DoesNotContain("agent-only", submitted, StringComparison.Ordinal);
        Assert.Matches(DryRunPattern(dryRun), submitted);
    }

    [Fact]
    public async Task Enqueue_OfAPartitionTheQueueDoesNotAllow_IsRefusedNamingTheField()
    {
        await using var harness = await SlurmHarness.StartAsync(server, """{"partition": "debug", "allowed_partitions": ["debug"]}""");
        var job = await CreateJobAsync(harness, "elsewhere", "print('never runs')");

        var refused = await Assert.ThrowsAsync<LiftoffException>(() => SlurmHarness.EnqueueAsync(harness, job, """{"partition": "batch"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("resource_args.partition", refused.Message, StringComparison.Ordinal);
        Assert.Empty((await harness.Client.ListItemsAsync(harness.Queue)).Items);
    }

    internal static Task<string> CreateJobAsync(AgentHarness harness, string name, string code) =>
        harness.CreateJobAsync(name, new Dictionary<string, string> { ["train.py"] = code }, ["python", "train.py"]);

    private Task StartAgentAsync(AgentHarness harness, string name = "test-agent") => SlurmHarness.StartAgentAsync(harness, cluster, name);

    /// <summary>
    /// The dry-run's text as a pattern the submitted script must match whole: each <c>&lt;placeholder&gt;</c> stands
    /// for what only the agent knows (one line at most), everything else must be the same character for character.
    /// </summary>
    internal static Regex DryRunPattern(string dryRun) =>
        new("^" + string.Concat(Placeholder().Split(dryRun).Select((part, i) => i % 2 == 0 ? Regex.Escape(part) : "[^\n]+?")) + "$", RegexOptions.None, TimeSpan.FromSeconds(10));

    /// <summary><c>liftoff</c> itself, as a user runs it against the test server.</summary>
    internal static Task<ProcessResult> CliAsync(AgentHarness harness, params string[] args) =>
        ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll"), .. args], new Dictionary<string, string?>
        {
            ["LIFTOFF_BASE_URL"] = harness.Server.BaseUrl.ToString(),
            ["LIFTOFF_API_KEY"] = harness.Key,
            ["NO_COLOR"] = "1",
            ["COLUMNS"] = "250",
        });

    /// <summary>The Slurm job id the agent's console line names.</summary>
    internal static string JobId(string logs) => SubmittedLine().Match(logs) is { Success: true } match ? match.Groups[1].Value : throw new Xunit.Sdk.XunitException("no 'submitted Slurm job' line in:\n" + logs);

    /// <summary>What the cluster itself says about the job.</summary>
    internal static async Task<(string State, string Partition)> SqueueAsync(string jobId)
    {
        var result = await ProcessRunner.RunAsync("squeue", ["--noheader", "--states=all", "--jobs=" + jobId, "--Format=State:|,Partition:|"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var fields = result.Stdout.Trim().Split('|');
        return (fields[0], fields[1]);
    }

    [GeneratedRegex(@"(<[^<>\n]+>)")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"submitted Slurm job (\d+)")]
    private static partial Regex SubmittedLine();

    [GeneratedRegex(@"^export LIFTOFF_API_KEY='([^']+)'$", RegexOptions.Multiline)]
    private static partial Regex KeyLine();
}

/// <summary>A slurm queue and in-process agents with the slurm runner pointed at the test cluster.</summary>
internal static class SlurmHarness
{
    public const string Resource = "slurm";

    public static Task<AgentHarness> StartAsync(ServerFixture server, string? queueConfigJson = null) =>
        AgentHarness.StartAsync(server, maxAttempts: 1, resource: Resource, queueConfigJson: queueConfigJson);

    /// <summary>Enqueues <paramref name="job"/> with <paramref name="resourceArgsJson"/> as the item's resource args (the sbatch options it chooses).</summary>
    public static Task<ItemInfo> EnqueueAsync(AgentHarness harness, string job, string resourceArgsJson) =>
        harness.Client.EnqueueAsync(harness.Queue, new EnqueueRequest(job, AgentHarness.Project, ResourceArgs: JsonDocument.Parse(resourceArgsJson).RootElement.Clone()));

    public static async Task StartAgentAsync(AgentHarness harness, SlurmClusterFixture cluster, string name = "test-agent")
    {
        var options = harness.Options(name: name);
        options.SetTarget(new SlurmSettings { Workdir = cluster.Workdir, PollInterval = 0.2 });
        await harness.StartAgentAsync(options, s => s.AddTargetRunner(Resource, options));
    }
}
