using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Xunit;

namespace Liftoff.Core.Tests.Launch;

public sealed class ItemLifecycleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static ItemRecord Claimed() => ItemLifecycle.Claim(
        new ItemRecord("item_1", "q", "e", ItemStates.Pending, 2, 1, 3, "train", "{}", "p", null, "{}", "{}", "{}", null, null, null, null, null, T0, null, null, null, null, false),
        "agent_1", "run_1", T0, T0.AddSeconds(30));

    [Theory]
    [InlineData(ItemStates.Running)]
    [InlineData(ItemStates.Finished)]
    [InlineData(ItemStates.Failed)]
    public void Report_TheSameStateAgainFromTheSameAttempt_ChangesNothing(string state)
    {
        var reported = ItemLifecycle.Report(Claimed(), 1, state, null, "it broke", T0.AddSeconds(1), T0.AddSeconds(31));

        var again = ItemLifecycle.Report(reported, 1, state, null, "a later message", T0.AddSeconds(2), T0.AddSeconds(32));

        Assert.Same(reported, again);
    }

    [Fact]
    public void Report_TheSameEndFromAnEarlierAttempt_IsConflict()
    {
        var finished = ItemLifecycle.Report(Claimed() with { Attempt = 2 }, 2, ItemStates.Finished, null, null, T0.AddSeconds(1), T0.AddSeconds(31));

        Assert.Throws<ItemConflictException>(() => ItemLifecycle.Report(finished, 1, ItemStates.Finished, null, null, T0.AddSeconds(2), T0.AddSeconds(32)));
    }

    [Fact]
    public void Report_LeasedWhileLeased_IsStillNotAStateAnAgentReports()
    {
        Assert.Throws<ItemConflictException>(() => ItemLifecycle.Report(Claimed(), 1, ItemStates.Leased, null, null, T0.AddSeconds(1), T0.AddSeconds(31)));
    }

    [Fact]
    public void Release_OfARunningItem_MakesItPendingWithTheSameAttempt()
    {
        var running = ItemLifecycle.Report(Claimed(), 1, ItemStates.Running, null, null, T0.AddSeconds(1), T0.AddSeconds(31));

        var released = ItemLifecycle.Release(running, 1, "run_1", T0.AddSeconds(2));

        Assert.Equal(ItemStates.Pending, released.State);
        Assert.Equal(1, released.Attempt);
        Assert.Null(released.RunId);
        Assert.Null(released.AgentId);
        Assert.Null(released.LeaseExpiresAt);
        Assert.Same(released, ItemLifecycle.Release(released, 1, "run_1", T0.AddSeconds(3)));
    }

    [Fact]
    public void Release_ByTheEarlierHolderOfTheSameAttempt_IsConflict()
    {
        var released = ItemLifecycle.Release(Claimed(), 1, "run_1", T0.AddSeconds(1));
        var claimedAgain = ItemLifecycle.Claim(released, "agent_2", "run_2", T0.AddSeconds(2), T0.AddSeconds(32));

        Assert.Throws<ItemConflictException>(() => ItemLifecycle.Release(claimedAgain, 1, "run_1", T0.AddSeconds(3)));
        Assert.Throws<ItemConflictException>(() => ItemLifecycle.Release(claimedAgain, 2, "run_2", T0.AddSeconds(3)));
    }

    [Fact]
    public void Release_OfAnItemAskedToCancel_EndsItCancelled()
    {
        var stopping = ItemLifecycle.Cancel(Claimed(), T0.AddSeconds(1));

        var released = ItemLifecycle.Release(stopping, 1, "run_1", T0.AddSeconds(2));

        Assert.Equal(ItemStates.Cancelled, released.State);
        Assert.Equal(T0.AddSeconds(2), released.EndedAt);
    }
}
