using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>
/// An item's waiting reason (why its workload is not running yet, as its agent says with each heartbeat): kept while
/// the item is held, gone once it moves on by any path.
/// </summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task WaitingReason_SetByAHeartbeat_IsKept_ThenClearedByTheNextHeartbeatWithoutOne()
    {
        var (e, q) = await HeldItemAsync();

        await WaitingHeartbeatAsync(e, "i", "PartitionDown");
        Assert.Equal("PartitionDown", (await Queues.GetItemAsync(e, "i", default))!.WaitingReason);
        Assert.Equal("PartitionDown", Assert.Single(await Queues.ListItemsAsync(q, null, 10, default)).WaitingReason);
        await WaitingHeartbeatAsync(e, "i", null);

        Assert.Null((await Queues.GetItemAsync(e, "i", default))!.WaitingReason);
    }

    [Fact]
    public async Task WaitingReason_IsClearedWhenTheItemRuns_AndWhenItEnds()
    {
        var (e, _) = await HeldItemAsync();
        await WaitingHeartbeatAsync(e, "i", "Priority");

        var running = await ReportAsync(e, "i", 1, ItemStates.Running);
        Assert.Null(running.WaitingReason);
        Assert.Null((await Queues.GetItemAsync(e, "i", default))!.WaitingReason);

        await WaitingHeartbeatAsync(e, "i", "Resources");
        var ended = await ReportAsync(e, "i", 1, ItemStates.Finished);

        Assert.Null(ended.WaitingReason);
        Assert.Null((await Queues.GetItemAsync(e, "i", default))!.WaitingReason);
    }

    [Fact]
    public async Task WaitingReason_IsClearedWhenTheLeaseRunsOutAndTheItemIsPendingAgain()
    {
        var (e, _) = await HeldItemAsync();
        await WaitingHeartbeatAsync(e, "i", "ReqNodeNotAvail");

        _clock.Advance(ReaperOptions.ItemLease + TimeSpan.FromSeconds(1));
        await NewQueueReaper().SweepAsync(default);

        var requeued = (await Queues.GetItemAsync(e, "i", default))!;
        Assert.Equal(ItemStates.Pending, requeued.State);
        Assert.Null(requeued.WaitingReason);
    }

    [Fact]
    public async Task WaitingReason_IsClearedWhenTheItemIsHandedBack()
    {
        var (e, _) = await HeldItemAsync();
        await WaitingHeartbeatAsync(e, "i", "Resources");
        var runId = (await Queues.GetItemAsync(e, "i", default))!.RunId!;

        var released = await Queues.UpdateItemAsync(e, "i", i => ItemLifecycle.Release(i, 1, runId, _clock.GetUtcNow()), default);

        Assert.Equal(ItemStates.Pending, released!.State);
        Assert.Null(released.WaitingReason);
        Assert.Null((await Queues.GetItemAsync(e, "i", default))!.WaitingReason);
    }

    /// <summary>An item claimed and starting under attempt 1: its entity's and queue's ids.</summary>
    private async Task<(long Entity, long Queue)> HeldItemAsync()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "q"), default);
        await ClaimNowAsync(agent, q.Id);
        await ReportAsync(e.Id, "i", 1, ItemStates.Starting);
        return (e.Id, q.Id);
    }

    /// <summary>The agent's heartbeat with its workload's waiting reason, as the heartbeat API applies it.</summary>
    private Task<ItemRecord?> WaitingHeartbeatAsync(long entityId, string itemId, string? reason) =>
        Queues.UpdateItemAsync(entityId, itemId, i => ItemLifecycle.Renew(i, 1, _clock.GetUtcNow() + ReaperOptions.ItemLease, reason), default);
}
