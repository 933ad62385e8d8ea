using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>Queue control (issue #17): moving pending items in line, to another priority or queue, and pausing a queue.</summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task MoveItem_TopBottomBeforeAfter_IsTheOrderTheListShowsAndTheClaimsFollow()
    {
        var (e, q) = await QueueWithItemsAsync("a", "b", "c", "d");

        await MoveAsync(e, "d", MovePlace.Top);
        Assert.Equal(["d", "a", "b", "c"], await PendingAsync(q));
        await MoveAsync(e, "a", MovePlace.Bottom);
        Assert.Equal(["d", "b", "c", "a"], await PendingAsync(q));
        await MoveAsync(e, "c", MovePlace.Before, "b");
        Assert.Equal(["d", "c", "b", "a"], await PendingAsync(q));
        await MoveAsync(e, "d", MovePlace.After, "b");
        Assert.Equal(["c", "b", "d", "a"], await PendingAsync(q));
        await Queues.EnqueueAsync(e, q, NewItem("e", "q"), default);

        Assert.Equal(["c", "b", "d", "a", "e"], await ClaimAllAsync(e, q));
    }

    [Fact]
    public async Task MoveItem_BeforeOrAfterTheSameItemAgainAndAgain_MakesRoomWhenTheKeysRunOut()
    {
        var before = Enumerable.Range(1, 30).Select(i => $"b{i:00}").ToArray();
        var after = Enumerable.Range(1, 30).Select(i => $"a{i:00}").ToArray();
        var (e, q) = await QueueWithItemsAsync(["first", "last", .. before, .. after]);

        foreach (var name in before)
        {
            await MoveAsync(e, name, MovePlace.Before, "last");
        }

        foreach (var name in after)
        {
            await MoveAsync(e, name, MovePlace.After, "first");
        }

        string[] expected = ["first", .. after.Reverse(), .. before, "last"];
        Assert.Equal(expected, await PendingAsync(q));
        Assert.Equal(expected, await ClaimAllAsync(e, q));
    }

    [Fact]
    public async Task MoveItem_ToAPriority_KeepsItsAgeThere_AndNextToAnItem_TakesThatItemsPriority()
    {
        var e = (await NewEntityAsync("e")).Id;
        var q = (await Queues.CreateQueueAsync(e, NewQueue("q"), default)).Id;
        await Queues.EnqueueAsync(e, q, NewItem("old-low", "q", priority: 3), default);
        await Queues.EnqueueAsync(e, q, NewItem("high", "q", priority: 1), default);
        await Queues.EnqueueAsync(e, q, NewItem("young-low", "q", priority: 3), default);
        await Queues.EnqueueAsync(e, q, NewItem("newer-high", "q", priority: 1), default);

        var raised = await MoveAsync(e, "old-low", MovePlace.Keep, priority: 1);
        Assert.Equal(1, raised.Priority);
        Assert.Equal(["old-low", "high", "newer-high", "young-low"], await PendingAsync(q));

        var moved = await MoveAsync(e, "young-low", MovePlace.After, "high");
        Assert.Equal(1, moved.Priority);
        Assert.Equal(["old-low", "high", "young-low", "newer-high"], await ClaimAllAsync(e, q));
    }

    [Fact]
    public async Task MoveItem_ToAnotherQueue_IsClaimedThere_AndTheHistorySaysSo()
    {
        var (e, q) = await QueueWithItemsAsync("i");
        var other = (await Queues.CreateQueueAsync(e, NewQueue("other"), default)).Id;
        await Queues.EnqueueAsync(e, other, NewItem("there", "other"), default);

        var moved = await MoveAsync(e, "i", MovePlace.Top, queueId: other, note: "moved to queue other by alice");

        Assert.Equal("other", moved.Queue);
        Assert.Empty(await PendingAsync(q));
        Assert.Equal(["i", "there"], await ClaimAllAsync(e, other));
        var history = (await Queues.GetItemHistoryAsync(e, "i", default))!;
        Assert.Equal((ItemStates.Pending, "moved to queue other by alice"), (history[1].State, history[1].Message));
        Assert.Equal(ItemStates.Leased, history[2].State);
    }

    [Fact]
    public async Task MoveItem_ClaimedOrNextToAClaimedItem_ThrowsAConflictNamingTheState()
    {
        var (e, q) = await QueueWithItemsAsync("claimed", "waiting");
        await ClaimNowAsync(await Queues.RegisterAgentAsync(e, NewAgent("a", "q"), default), q);

        var own = await Assert.ThrowsAsync<ItemConflictException>(() => MoveAsync(e, "claimed", MovePlace.Top));
        var anchor = await Assert.ThrowsAsync<ItemConflictException>(() => MoveAsync(e, "waiting", MovePlace.Before, "claimed"));

        Assert.Contains("is leased", own.Message, StringComparison.Ordinal);
        Assert.Contains("claimed is leased", anchor.Message, StringComparison.Ordinal);
        Assert.Single((await Queues.GetItemHistoryAsync(e, "waiting", default))!);
    }

    [Fact]
    public async Task MoveItem_RefusedByTheAuthorization_ChangesNothing()
    {
        var (e, q) = await QueueWithItemsAsync("a", "b");

        await Assert.ThrowsAsync<ForbiddenException>(() =>
            Queues.MoveItemAsync(e, "b", new ItemMove(MovePlace.Top, "moved"), _ => throw new ForbiddenException("not yours"), T0, default));

        Assert.Equal(["a", "b"], await PendingAsync(q));
        Assert.Null(await Queues.MoveItemAsync(e, "nope", new ItemMove(MovePlace.Top, "moved"), _ => { }, T0, default));
    }

    [Fact]
    public async Task MoveItem_RacingClaims_EitherMovesAPendingItemOrFailsNamingTheState()
    {
        var names = Enumerable.Range(1, 12).Select(i => $"i{i:00}").ToArray();
        var (e, q) = await QueueWithItemsAsync(names);
        var agent = await Queues.RegisterAgentAsync(e, NewAgent("a", "q"), default);

        // A claim passes over an item a move holds (SKIP LOCKED), so one may find nothing for a moment: it polls on.
        var claims = Task.Run(async () =>
        {
            var claimed = new List<string>();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (claimed.Count < names.Length && DateTime.UtcNow < deadline)
            {
                if (await ClaimNowAsync(agent, q) is { } item)
                {
                    claimed.Add(item.Item.Id);
                }
            }

            return claimed;
        });
        var moves = Task.Run(async () =>
        {
            var outcomes = new List<string>();
            foreach (var name in names.Reverse())
            {
                try
                {
                    outcomes.Add((await MoveAsync(e, name, MovePlace.Top)).State);
                }
                catch (ItemConflictException conflict)
                {
                    outcomes.Add(conflict.Message);
                }
            }

            return outcomes;
        });

        var claimedIds = await claims;
        Assert.All(await moves, o => Assert.True(o == ItemStates.Pending || o.Contains("is leased: only a pending item moves", StringComparison.Ordinal), o));
        Assert.Equal(names.Order(), claimedIds.Order());
    }

    [Fact]
    public async Task PauseQueue_ClaimsTakeNothing_ItemsStayPending_UntilItResumes()
    {
        var (e, q) = await QueueWithItemsAsync("i");
        var agent = await Queues.RegisterAgentAsync(e, NewAgent("a", "q"), default);

        var paused = (await Queues.SetQueuePausedAsync(e, "q", true, default))!;

        Assert.True(paused.Paused);
        Assert.True((await Queues.GetQueueAsync(e, "q", default))!.Paused);
        Assert.Null(await ClaimNowAsync(agent, q));
        Assert.Equal(["i"], await PendingAsync(q));
        Assert.Null(await Queues.SetQueuePausedAsync(e, "nope", true, default));

        Assert.False((await Queues.SetQueuePausedAsync(e, "q", false, default))!.Paused);
        Assert.Equal("i", (await ClaimNowAsync(agent, q))!.Item.Id);
    }

    [Fact]
    public async Task CountAhead_CountsTheClaimableItemsBefore_AndThoseOfAHigherPriority()
    {
        var e = (await NewEntityAsync("e")).Id;
        var q = (await Queues.CreateQueueAsync(e, NewQueue("q"), default)).Id;
        await Queues.EnqueueAsync(e, q, NewItem("medium", "q", priority: 2), default);
        await Queues.EnqueueAsync(e, q, NewItem("high", "q", priority: 1), default);
        await Queues.EnqueueAsync(e, q, NewItem("later", "q", priority: 2), default);
        await Queues.EnqueueAsync(e, q, NewItem("backing-off", "q", priority: 0), default);
        await Queues.UpdateItemAsync(e, "backing-off", i => i with { ClaimableAt = T0.AddMinutes(1) }, default);

        Assert.Equal((0L, 0L), await Queues.CountAheadAsync(e, "high", default));
        Assert.Equal((2L, 1L), await Queues.CountAheadAsync(e, "later", default));
        await MoveAsync(e, "later", MovePlace.Top);
        Assert.Equal((1L, 1L), await Queues.CountAheadAsync(e, "later", default));
        await ClaimNowAsync(await Queues.RegisterAgentAsync(e, NewAgent("a", "q"), default), q);
        Assert.Null(await Queues.CountAheadAsync(e, "high", default));
    }

    private async Task<(long Entity, long Queue)> QueueWithItemsAsync(params string[] ids)
    {
        var e = (await NewEntityAsync("e")).Id;
        var q = (await Queues.CreateQueueAsync(e, NewQueue("q"), default)).Id;
        foreach (var id in ids)
        {
            await Queues.EnqueueAsync(e, q, NewItem(id, "q"), default);
        }

        return (e, q);
    }

    private async Task<ItemRecord> MoveAsync(long entityId, string itemId, MovePlace place, string? anchor = null, int? priority = null, long? queueId = null, string note = "moved") =>
        (await Queues.MoveItemAsync(entityId, itemId, new ItemMove(place, note, anchor, priority, queueId), _ => { }, _clock.GetUtcNow(), default))!;

    private async Task<string[]> PendingAsync(long queueId) =>
        [.. (await Queues.ListItemsAsync(queueId, ItemStates.Pending, 100, default)).Select(i => i.Id)];

    /// <summary>Every pending item of the queue, claimed one by one by an agent of its own.</summary>
    private async Task<List<string>> ClaimAllAsync(long entityId, long queueId)
    {
        var queue = (await Queues.ListQueuesAsync(entityId, default)).Single(x => x.Id == queueId);
        var agent = await Queues.RegisterAgentAsync(entityId, NewAgent("claims-" + queue.Name, queue.Name), default);
        var claimed = new List<string>();
        while (await ClaimNowAsync(agent, queueId) is { } item)
        {
            claimed.Add(item.Item.Id);
        }

        return claimed;
    }
}
