using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Xunit;

namespace Liftoff.Core.Tests.Launch;

public sealed class RetryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly RetryPolicy NoJitter = RetryPolicies.Over(RetryPolicies.Default, new RetryPolicy(Backoff: new BackoffPolicy(10, 60, 0)));

    private static ItemRecord Running(RetryPolicy? policy = null, int maxAttempts = 10) => ItemLifecycle.Report(ItemLifecycle.Claim(
        new ItemRecord("item_1", "q", "e", ItemStates.Pending, 2, 1, maxAttempts, "train", "{}", "p", null, "{}", "{}", "{}", null, null, null, null, null, T0, null, null, null, null, false,
            RetryPolicyJson: RetryPolicies.Serialize(policy ?? NoJitter)),
        "agent_1", "run_1", T0, T0.AddSeconds(30)), 1, ItemStates.Running, null, null, T0, T0.AddSeconds(30));

    private static ItemRecord ClaimAgain(ItemRecord item, int attempt) =>
        ItemLifecycle.Report(ItemLifecycle.Claim(ItemLifecycle.Promote(item, item.ClaimableAt!.Value), "agent_1", $"run_{attempt}", T0, T0.AddSeconds(30)),
            attempt, ItemStates.Running, null, null, T0, T0.AddSeconds(30));

    [Fact]
    public void Report_InfrastructureFailure_RetriesAfterABackoffThatDoublesUpToItsCap()
    {
        var item = Running();
        var delays = new List<TimeSpan>();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            item = ItemLifecycle.Report(item, attempt, ItemStates.Failed, ItemPhases.Submit, "registry said 503", T0, T0, FailureClasses.Infrastructure);
            Assert.Equal((ItemStates.Pending, attempt + 1, FailureClasses.Infrastructure, "registry said 503"), (item.State, item.Attempt, item.FailureClass, item.Error));
            Assert.Null(item.RunId);
            delays.Add(item.ClaimableAt!.Value - T0);
            item = ClaimAgain(item, attempt + 1);
        }

        Assert.Equal([TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(40)], delays);

        var failed = ItemLifecycle.Report(item, 4, ItemStates.Failed, ItemPhases.Submit, "registry said 503", T0.AddSeconds(5), T0, FailureClasses.Infrastructure);

        Assert.Equal((ItemStates.Failed, FailureClasses.Infrastructure, T0.AddSeconds(5)), (failed.State, failed.FailureClass, failed.EndedAt));
        Assert.Contains("no infrastructure retries left: 3 allowed", failed.Error, StringComparison.Ordinal);
        Assert.Null(failed.ClaimableAt);
    }

    [Fact]
    public void Delay_IsCappedAndJitterOnlyShortensIt()
    {
        var backoff = new BackoffPolicy(10, 60, 0.5);

        Assert.Equal(TimeSpan.FromSeconds(60), RetryPolicies.Delay(backoff, 9, 0));
        Assert.Equal(TimeSpan.FromSeconds(30), RetryPolicies.Delay(backoff, 9, 1));
        Assert.Equal(TimeSpan.FromSeconds(15), RetryPolicies.Delay(backoff, 2, 0.5));
    }

    [Theory]
    [InlineData(FailureClasses.User, null)]
    [InlineData(FailureClasses.Config, null)]
    [InlineData(FailureClasses.Timeout, null)]
    [InlineData(FailureClasses.User, 1)]
    public void Report_FailureOfAClassWithoutRetries_EndsTheItemFailedWithThatClass(string failureClass, int? exitCode)
    {
        var failed = ItemLifecycle.Report(Running(), 1, ItemStates.Failed, ItemPhases.Run, "the job exited with code 1", T0, T0, failureClass, exitCode);

        Assert.Equal((ItemStates.Failed, failureClass), (failed.State, failed.FailureClass));
    }

    [Fact]
    public void Report_WithoutAClass_IsAUserFailure()
    {
        var failed = ItemLifecycle.Report(Running(), 1, ItemStates.Failed, ItemPhases.Run, "exit 1", T0, T0);

        Assert.Equal((ItemStates.Failed, FailureClasses.User), (failed.State, failed.FailureClass));
    }

    [Fact]
    public void Report_UserFailureWithARetryableExitCode_IsRetriedUnderTheInfrastructureBudget()
    {
        var policy = RetryPolicies.Over(NoJitter, new RetryPolicy(new Dictionary<string, int> { [FailureClasses.Infrastructure] = 1 }));
        var retried = ItemLifecycle.Report(Running(policy), 1, ItemStates.Failed, ItemPhases.Run, "killed", T0, T0, FailureClasses.User, 137);

        Assert.Equal((ItemStates.Pending, 2, FailureClasses.User), (retried.State, retried.Attempt, retried.FailureClass));
        Assert.Contains("\"infrastructure\":1", retried.RetriesJson, StringComparison.Ordinal);

        var again = ItemLifecycle.Report(ClaimAgain(retried, 2), 2, ItemStates.Failed, ItemPhases.Run, "lease", T0, T0, FailureClasses.Infrastructure);

        Assert.Equal(ItemStates.Failed, again.State);
    }

    [Fact]
    public void Report_PreemptionAndInfrastructure_SpendSeparateBudgets()
    {
        var policy = RetryPolicies.Over(NoJitter, new RetryPolicy(new Dictionary<string, int> { [FailureClasses.Infrastructure] = 1, [FailureClasses.Preemption] = 1 }));
        var item = ItemLifecycle.Report(Running(policy), 1, ItemStates.Failed, ItemPhases.Run, "spot reclaimed", T0, T0, FailureClasses.Preemption);
        item = ItemLifecycle.Report(ClaimAgain(item, 2), 2, ItemStates.Failed, ItemPhases.Run, "node lost", T0, T0, FailureClasses.Infrastructure);

        Assert.Equal((ItemStates.Pending, 3), (item.State, item.Attempt));

        item = ItemLifecycle.Report(ClaimAgain(item, 3), 3, ItemStates.Failed, ItemPhases.Run, "spot reclaimed", T0, T0, FailureClasses.Preemption);

        Assert.Equal((ItemStates.Failed, FailureClasses.Preemption), (item.State, item.FailureClass));
    }

    [Fact]
    public void Report_FailureOnTheItemsLastAttempt_IsNotRetriedWhateverTheBudget()
    {
        var failed = ItemLifecycle.Report(Running(maxAttempts: 1), 1, ItemStates.Failed, ItemPhases.Submit, "503", T0, T0, FailureClasses.Infrastructure);

        Assert.Equal(ItemStates.Failed, failed.State);
        Assert.Contains("attempt 1 of 1", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_FailureOfAnItemAskedToCancel_IsNotRetried()
    {
        var stopping = ItemLifecycle.Cancel(Running(), T0);

        var failed = ItemLifecycle.Report(stopping, 1, ItemStates.Failed, ItemPhases.Run, "503", T0, T0, FailureClasses.Infrastructure);

        Assert.Equal(ItemStates.Failed, failed.State);
    }

    [Fact]
    public void Expire_IsAnInfrastructureFailureWithABackoff()
    {
        var expired = ItemLifecycle.Expire(Running(), T0.AddMinutes(1));

        Assert.Equal((ItemStates.Pending, 2, FailureClasses.Infrastructure, T0.AddMinutes(1).AddSeconds(10)), (expired.State, expired.Attempt, expired.FailureClass, expired.ClaimableAt));
        Assert.False(ItemLifecycle.IsRelease(Running(), expired));
        Assert.True(ItemLifecycle.IsRetry(Running(), expired));
    }

    [Fact]
    public void TimeOutStart_IsATimeoutFailure()
    {
        var failed = ItemLifecycle.TimeOutStart(Running(), TimeSpan.FromMinutes(30), T0);

        Assert.Equal((ItemStates.Failed, FailureClasses.Timeout, ItemPhases.Start), (failed.State, failed.FailureClass, failed.Phase));
    }

    [Fact]
    public void Cancel_OfAPendingItemBackingOff_EndsItCancelledAndNoLongerWaiting()
    {
        var backingOff = ItemLifecycle.Expire(Running(), T0);

        var cancelled = ItemLifecycle.Cancel(backingOff, T0);

        Assert.Equal((ItemStates.Cancelled, FailureClasses.Cancelled, (DateTimeOffset?)null), (cancelled.State, cancelled.FailureClass, cancelled.ClaimableAt));
    }

    [Fact]
    public void Promote_OnlyOnceTheBackoffEnded()
    {
        var backingOff = ItemLifecycle.Expire(Running(), T0);

        Assert.Same(backingOff, ItemLifecycle.Promote(backingOff, T0.AddSeconds(9)));
        Assert.Null(ItemLifecycle.Promote(backingOff, T0.AddSeconds(10)).ClaimableAt);
    }

    [Fact]
    public void Validate_NamesEachBadField()
    {
        var errors = RetryPolicies.Validate(new RetryPolicy(
            new Dictionary<string, int> { ["cancelled"] = 1, ["user"] = 101 }, [0, 137], new BackoffPolicy(0, 5, 2)), "retry_policy");

        Assert.Equal(
            ["retry_policy.attempts.cancelled", "retry_policy.attempts.user", "retry_policy.retry_on_exit_codes[0]", "retry_policy.backoff.initial_seconds", "retry_policy.backoff.jitter"],
            errors.Select(e => e.Field));
    }

    [Fact]
    public void CheckWithin_RefusesAnItemAskingForMoreThanItsQueueAllows()
    {
        var errors = RetryPolicies.CheckWithin(
            new RetryPolicy(new Dictionary<string, int> { ["infrastructure"] = 4, ["preemption"] = 2 }, [137, 1], new BackoffPolicy(1, 600)),
            RetryPolicies.Default, "retry_policy");

        Assert.Equal(["retry_policy.attempts.infrastructure", "retry_policy.retry_on_exit_codes[1]", "retry_policy.backoff.initial_seconds"], errors.Select(e => e.Field));
    }

    [Fact]
    public void Over_KeepsWhatTheItemLeavesOut()
    {
        var effective = RetryPolicies.Over(RetryPolicies.Default, new RetryPolicy(new Dictionary<string, int> { ["infrastructure"] = 1 }, Backoff: new BackoffPolicy(MaxSeconds: 900)));

        Assert.Equal((1, 5), (effective.Attempts!["infrastructure"], effective.Attempts["preemption"]));
        Assert.Equal([137, 143], effective.RetryOnExitCodes!);
        Assert.Equal(new BackoffPolicy(10, 900, 0.5), effective.Backoff);
    }
}
