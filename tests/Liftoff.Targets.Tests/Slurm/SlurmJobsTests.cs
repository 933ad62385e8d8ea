using Liftoff.Contracts;
using Liftoff.Targets.Slurm;
using Xunit;

namespace Liftoff.Targets.Tests.Slurm;

/// <summary>
/// What the runner reads back from Slurm and from its own files: squeue's columns and wait statuses, the comment a
/// restarted agent finds its jobs by, the secrets file it redacts with, and the end states the test cluster cannot
/// produce on demand (a failed node, a preemption, an OOM kill).
/// </summary>
public sealed class SlurmJobsTests
{
    [Fact]
    public void ParseQueue_ReadsEachColumn_DecodesTheWaitStatus_AndSkipsWhatIsNotAJobLine()
    {
        var jobs = SlurmCommands.ParseQueue("""
            12|FAILED|NonZeroExitCode|768|liftoff-r1-1|liftoff/v1 agent=a item=i attempt=1 run=r1 queue=q|
            13|TIMEOUT|TimeLimit|36608|other|(null)|
            14|CANCELLED|None|9|x|a|b with pipes|
            15|PENDING|Resources|0|queued|(null)|
            squeue: warning: something
            """);

        Assert.Equal(["12", "13", "14", "15"], jobs.Select(j => j.JobId));
        Assert.Equal(3, jobs[0].ExitCode);
        Assert.Equal("liftoff/v1 agent=a item=i attempt=1 run=r1 queue=q", jobs[0].Comment);
        Assert.Equal(143, jobs[1].ExitCode);
        Assert.Equal(137, jobs[2].ExitCode);
        Assert.Equal("a|b with pipes", jobs[2].Comment);
        Assert.Null(jobs[3].ExitCode);
        Assert.Equal("", jobs[3].Comment);
        Assert.True(jobs[3].IsPending);
        Assert.Equal("Resources", jobs[3].Reason);
    }

    [Fact]
    public void Comment_RoundTripsAgentAndQueueNamesWithSpacesQuotesAndPipes()
    {
        var spec = Spec("item_1", 3, "run9", "team queue|\"x\"");

        var comment = SlurmJobs.Comment("login node 'a'", spec);
        var labels = SlurmJobs.ParseComment(comment);

        Assert.DoesNotContain('|', comment);
        Assert.DoesNotContain('"', comment);
        Assert.Equal(new SlurmJobs.Labels("login node 'a'", "item_1", 3, "run9", "team queue|\"x\""), labels);
        Assert.Null(SlurmJobs.ParseComment("someone else's job"));
        Assert.Null(SlurmJobs.ParseComment("liftoff/v1 agent=a item=i"));
    }

    [Fact]
    public void ParseSecretsFile_ReadsBackWhatSecretsFileTextWrote()
    {
        var secrets = new Dictionary<string, string>
        {
            ["LIFTOFF_API_KEY"] = "local-abc",
            ["TOKEN"] = "it's a \"quote\" $HOME `x` \\ end",
            ["MULTI"] = "line one\nline two",
            ["EMPTY"] = "",
        };

        var read = SlurmJobs.ParseSecretsFile(SlurmBatchScript.SecretsFileText(secrets));

        Assert.Equal(secrets.OrderBy(s => s.Key), read.OrderBy(s => s.Key));
    }

    [Theory]
    [InlineData("COMPLETED", 0, true, 0, null, null)]
    [InlineData("FAILED", 3, true, 3, null, null)]
    [InlineData("TIMEOUT", 0, true, 143, "TIMEOUT", null)]
    [InlineData("OUT_OF_MEMORY", 0, true, 137, "OUT_OF_MEMORY", null)]
    [InlineData("NODE_FAIL", 0, true, 1, "NODE_FAIL", null)]
    [InlineData("PREEMPTED", 0, true, 143, "PREEMPTED", null)]
    [InlineData("CANCELLED", 0, true, 143, "cancelled outside Liftoff", null)]
    [InlineData("CANCELLED", 0, false, 143, "cancelled before it started", ItemPhases.Submit)]
    [InlineData("BOOT_FAIL", 0, false, 1, "BOOT_FAIL", ItemPhases.Submit)]
    public void Exit_MapsEachFinalStateToAnExitAndAReasonNamingIt(string state, int code, bool started, int exit, string? reason, string? phase)
    {
        var result = SlurmJobs.Exit(new SlurmJobState("7", state, "None", code, "liftoff-r-1", ""), started);

        Assert.Equal(exit, result.ExitCode);
        Assert.Equal(phase, result.Phase);
        if (reason is null)
        {
            Assert.Null(result.Reason);
        }
        else
        {
            Assert.Contains(reason, result.Reason, StringComparison.Ordinal);
            Assert.Contains("Slurm job 7", result.Reason, StringComparison.Ordinal);
        }
    }

    private static LaunchSpec Spec(string item, int attempt, string run, string queue) =>
        new(item, attempt, queue, "slurm", "e", "p", run, "n", "j", default, ["python"], default, default, new Dictionary<string, string>());
}
