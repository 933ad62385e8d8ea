using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>Retries by failure class, the backoff before a retried item is claimable, and the item's history (issue #17).</summary>
public abstract partial class StoreContract
{
    /// <summary>Defaults, but a backoff without jitter, so that the test knows when it ends.</summary>
    private static readonly string ExactBackoff = RetryPolicies.Serialize(RetryPolicies.Over(RetryPolicies.Default, new RetryPolicy(Backoff: new BackoffPolicy(10, 60, 0))));

    [Fact]
    public async Task Report_FailureWithRetriesLeft_HoldsTheItemBackUntilItsBackoffEnds_ThenTheReaperMakesItClaimable()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q") with { RetryPolicyJson = ExactBackoff }, default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("a", "q"), default);
        var first = (await ClaimNowAsync(agent, q.Id))!;
        await ReportAsync(e.Id, "i", 1, ItemStates.Running);

        var retried = await FailAsync(e.Id, "i", 1, FailureClasses.Infrastructure, "the registry answered 503");

        Assert.Equal((ItemStates.Pending, 2, FailureClasses.Infrastructure, T0.AddSeconds(10)), (retried.State, retried.Attempt, retried.FailureClass, retried.ClaimableAt));
        Assert.Equal(retried, await Queues.GetItemAsync(e.Id, "i", default));
        Assert.Equal(RunStates.Failed, (await Runs.GetRunAsync(e.Id, first.Run.Id, default))!.State);
        Assert.Null(await ClaimNowAsync(agent, q.Id));

        var reaper = NewQueueReaper();
        _clock.Advance(TimeSpan.FromSeconds(9));
        await reaper.SweepAsync(default);
        Assert.Null(await ClaimNowAsync(agent, q.Id));

        var woken = _queueSignals.NextChange([q.Id]);
        _clock.Advance(TimeSpan.FromSeconds(1));
        await reaper.SweepAsync(default);

        await woken.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null((await Queues.GetItemAsync(e.Id, "i", default))!.ClaimableAt);
        var second = (await ClaimNowAsync(agent, q.Id))!;
        Assert.Equal(("i", 2), (second.Item.Id, second.Item.Attempt));
        Assert.NotEqual(first.Run.Id, second.Run.Id);
    }

    [Fact]
    public async Task Claim_PassesOverAnItemBackingOff_ToTheNextOne()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("first", "q", priority: 0) with { RetryPolicyJson = ExactBackoff }, default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("a", "q"), default);
        await ClaimNowAsync(agent, q.Id);
        await FailAsync(e.Id, "first", 1, FailureClasses.Preemption, "spot capacity reclaimed");
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("second", "q", priority: 3), default);

        var claimed = (await ClaimNowAsync(agent, q.Id))!;

        Assert.Equal("second", claimed.Item.Id);
        Assert.Equal(ItemStates.Pending, (await Queues.GetItemAsync(e.Id, "first", default))!.State);
    }

    [Fact]
    public async Task Report_UserFailure_EndsTheItemFailedWithItsClass_AndItsPendingRunFailed()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q") with { RetryPolicyJson = ExactBackoff }, default);
        var claimed = (await ClaimNowAsync(await Queues.RegisterAgentAsync(e.Id, NewAgent("a", "q"), default), q.Id))!;

        var failed = await FailAsync(e.Id, "i", 1, FailureClasses.User, "the job never called init");

        Assert.Equal((ItemStates.Failed, FailureClasses.User, (DateTimeOffset?)null), (failed.State, failed.FailureClass, failed.ClaimableAt));
        Assert.Equal(RunStates.Failed, (await Runs.GetRunAsync(e.Id, claimed.Run.Id, default))!.State);
    }

    [Fact]
    public async Task QueueReaper_StartTimeout_FailsTheItemWithClassTimeout()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q") with { StartTimeoutSeconds = 20 }, default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);
        await ClaimNowAsync(await Queues.RegisterAgentAsync(e.Id, NewAgent("a", "q"), default), q.Id);
        await ReportAsync(e.Id, "i", 1, ItemStates.Starting);

        _clock.Advance(TimeSpan.FromSeconds(21));
        await NewQueueReaper().SweepAsync(default);

        var failed = (await Queues.GetItemAsync(e.Id, "i", default))!;
        Assert.Equal((ItemStates.Failed, FailureClasses.Timeout, ItemPhases.Start), (failed.State, failed.FailureClass, failed.Phase));
    }

    [Fact]
    public async Task History_KeepsEveryStateChange_Attempt_FailureClassAndMessage_InOrder()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q") with { RetryPolicyJson = ExactBackoff }, default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("a", "q"), default);
        var first = (await ClaimNowAsync(agent, q.Id))!;
        await ReportAsync(e.Id, "i", 1, ItemStates.Running);
        await HeartbeatAsync(e.Id, "i", 1);
        await FailAsync(e.Id, "i", 1, FailureClasses.Infrastructure, "node lost");
        _clock.Advance(TimeSpan.FromSeconds(10));
        await NewQueueReaper().SweepAsync(default);
        var second = (await ClaimNowAsync(agent, q.Id))!;
        await FailAsync(e.Id, "i", 2, FailureClasses.User, "the job exited with code 1");

        var history = (await Queues.GetItemHistoryAsync(e.Id, "i", default))!;

        Assert.Equal(
            [
                (ItemStates.Pending, 1, null, null, null),
                (ItemStates.Leased, 1, null, null, first.Run.Id),
                (ItemStates.Running, 1, null, null, first.Run.Id),
                (ItemStates.Pending, 2, FailureClasses.Infrastructure, "node lost", null),
                (ItemStates.Leased, 2, null, null, second.Run.Id),
                (ItemStates.Failed, 2, FailureClasses.User, "the job exited with code 1", second.Run.Id),
            ],
            history.Select(h => (h.State, h.Attempt, h.FailureClass, h.Message, h.RunId)));
        Assert.Equal(T0.AddSeconds(10), history[3].ClaimableAt);
        Assert.Equal(T0.AddSeconds(10), history[4].At);
    }

    [Fact]
    public async Task GetItemHistory_OfAnotherEntitysItemOrADeletedQueuesItem_IsNull()
    {
        var e = await NewEntityAsync("e");
        var other = await NewEntityAsync("other");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);

        Assert.Null(await Queues.GetItemHistoryAsync(other.Id, "i", default));
        Assert.Single((await Queues.GetItemHistoryAsync(e.Id, "i", default))!);

        await Queues.DeleteQueueAsync(e.Id, "q", force: true, T0, default);
        await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, (await Queues.GetQueueAsync(e.Id, "q", default))!.Id, NewItem("i", "q"), default);

        Assert.Single((await Queues.GetItemHistoryAsync(e.Id, "i", default))!);
    }

    [Fact]
    public async Task Queue_AndItem_KeepTheirRetryPolicyAndMaxRunTime()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q") with { RetryPolicyJson = ExactBackoff, MaxRunSeconds = 3600 }, default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q") with { RetryPolicyJson = ExactBackoff, MaxRunSeconds = 60 }, default);

        var queue = (await Queues.GetQueueAsync(e.Id, "q", default))!;
        var item = (await Queues.GetItemAsync(e.Id, "i", default))!;

        Assert.Equal((ExactBackoff, 3600), (queue.RetryPolicyJson, queue.MaxRunSeconds));
        Assert.Equal((ExactBackoff, 60), (item.RetryPolicyJson, item.MaxRunSeconds));
    }

    /// <summary>The agent's failure report, as the progress API applies it (no jitter drawn).</summary>
    private async Task<ItemRecord> FailAsync(long entityId, string itemId, int attempt, string failureClass, string message)
    {
        var now = _clock.GetUtcNow();
        return (await Queues.UpdateItemAsync(entityId, itemId,
            i => ItemLifecycle.Report(i, attempt, ItemStates.Failed, ItemPhases.Run, message, now, now + ReaperOptions.ItemLease, failureClass), default))!;
    }
}
