using Liftoff.Contracts;
using Liftoff.Core.Json;
using Liftoff.Core.Runs;
using Xunit;

namespace Liftoff.Core.Tests.Runs;

public sealed class RunLifecycleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static RunRecord Run(string state, bool stop = false) => new(
        "r1", "e", "p", "n", state, JsonObjects.Empty, JsonObjects.Empty, null, null, null, null, null, T0, null, null, null, stop, null, 0);

    [Theory]
    [InlineData(0, false, RunStates.Finished)]
    [InlineData(1, false, RunStates.Failed)]
    [InlineData(-9, false, RunStates.Failed)]
    [InlineData(0, true, RunStates.Killed)]
    [InlineData(130, true, RunStates.Killed)]
    public void Finish_MapsExitCodeAndStopRequest(int exitCode, bool stopRequested, string expected)
    {
        var finished = RunLifecycle.Finish(Run(RunStates.Running, stopRequested), exitCode, T0);
        Assert.Equal(expected, finished.State);
        Assert.Equal(exitCode, finished.ExitCode);
        Assert.Equal(T0, finished.EndedAt);
    }

    [Fact]
    public void Finish_Twice_IsIdempotentForSameOutcomeAndConflictOtherwise()
    {
        var finished = RunLifecycle.Finish(Run(RunStates.Running), 0, T0);
        Assert.Same(finished, RunLifecycle.Finish(finished, 0, T0.AddSeconds(1)));
        Assert.Throws<RunConflictException>(() => RunLifecycle.Finish(finished, 1, T0));
    }

    [Fact]
    public void Finish_OfCrashedRun_EndsIt()
    {
        Assert.Equal(RunStates.Finished, RunLifecycle.Finish(Run(RunStates.Crashed), 0, T0).State);
    }

    [Fact]
    public void Alive_RevivesCrashedRunAndRefusesEndedOrPendingOnes()
    {
        Assert.Equal(RunStates.Running, RunLifecycle.Alive(Run(RunStates.Crashed), T0).State);
        Assert.Equal(T0, RunLifecycle.Alive(Run(RunStates.Running), T0).HeartbeatAt);
        Assert.Throws<RunConflictException>(() => RunLifecycle.Alive(Run(RunStates.Finished), T0));
        Assert.Throws<RunConflictException>(() => RunLifecycle.Alive(Run(RunStates.Pending), T0));
    }

    [Fact]
    public void ConsoleWritten_InAnyState_IsAcceptedAndOnlyLiveRunsCountItAsLife()
    {
        Assert.Equal(RunStates.Running, RunLifecycle.ConsoleWritten(Run(RunStates.Crashed), T0).State);
        Assert.Equal(T0, RunLifecycle.ConsoleWritten(Run(RunStates.Running), T0).HeartbeatAt);
        Assert.Equal(Run(RunStates.Pending), RunLifecycle.ConsoleWritten(Run(RunStates.Pending), T0));
        Assert.Equal(Run(RunStates.Finished), RunLifecycle.ConsoleWritten(Run(RunStates.Finished), T0));
    }

    [Fact]
    public void RequestStop_KillsPendingAtOnceAndFlagsRunning()
    {
        Assert.Equal(RunStates.Killed, RunLifecycle.RequestStop(Run(RunStates.Pending), T0).State);
        var running = RunLifecycle.RequestStop(Run(RunStates.Running), T0);
        Assert.Equal(RunStates.Running, running.State);
        Assert.True(running.StopRequested);
        var ended = Run(RunStates.Finished);
        Assert.Same(ended, RunLifecycle.RequestStop(ended, T0));
    }

    [Fact]
    public void Attach_TakesOverPendingRunOnly()
    {
        var init = Run(RunStates.Running) with { Host = "gpu-1", PythonVersion = "3.11" };
        var attached = RunLifecycle.Attach(Run(RunStates.Pending), """{"lr":1}""", init, T0);
        Assert.Equal(RunStates.Running, attached.State);
        Assert.Equal("gpu-1", attached.Host);
        Assert.Equal("""{"lr":1}""", attached.ConfigJson);
        Assert.Throws<RunConflictException>(() => RunLifecycle.Attach(Run(RunStates.Running), "{}", init, T0));
    }

    [Theory]
    [InlineData("abc123", true)]
    [InlineData("a-b_c", true)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    public void IsValidId_AcceptsUrlSafeIds(string id, bool valid) => Assert.Equal(valid, RunIds.IsValidId(id));

    [Fact]
    public void NewId_IsEightUrlSafeCharacters()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => RunIds.NewId()).ToList();
        Assert.All(ids, id => Assert.Matches("^[a-z0-9]{8}$", id));
        Assert.Equal(1000, ids.Distinct().Count());
    }
}
