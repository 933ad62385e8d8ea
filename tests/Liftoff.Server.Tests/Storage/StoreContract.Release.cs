using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Auth;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

public abstract partial class StoreContract
{
    [Fact]
    public async Task UpdateItem_Release_RequeuesWithTheSameAttempt_KillsTheRunAndRevokesItsKey()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "q"), default);
        var (claimed, secret) = await ClaimWithRunKeyAsync(agent, q.Id);
        await Queues.UpdateItemAsync(e.Id, "i", i => ItemLifecycle.Report(i, 1, ItemStates.Running, null, null, T0.AddSeconds(1), T0.AddSeconds(31)), default);

        var released = await Queues.UpdateItemAsync(e.Id, "i", i => ItemLifecycle.Release(i, 1, claimed.Run.Id, T0.AddSeconds(2)), default);

        Assert.Equal((ItemStates.Pending, 1), (released!.State, released.Attempt));
        var stored = (await Queues.GetItemAsync(e.Id, "i", default))!;
        Assert.Equal((ItemStates.Pending, 1), (stored.State, stored.Attempt));
        Assert.Null(stored.LeaseExpiresAt);
        var run = (await Runs.GetRunAsync(e.Id, claimed.Run.Id, default))!;
        Assert.Equal(RunStates.Killed, run.State);
        Assert.NotNull(run.EndedAt);
        Assert.Null(await Identities.FindKeyAsync(ApiKeys.Hash(secret), default));
        Assert.Empty(await Queues.ExpireLeasesAsync(T0.AddSeconds(60), default));
        var again = await Queues.ClaimAsync(agent, [q.Id], T0.AddSeconds(3), T0.AddSeconds(33), Prepare, default);
        Assert.Equal(("i", 1), (again!.Item.Id, again.Item.Attempt));
        Assert.NotEqual(claimed.Run.Id, again.Run.Id);
    }

    [Fact]
    public async Task UpdateItem_ReleaseByTheEarlierHolder_AfterTheNextClaim_ChangesNothing()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "q"), default);
        var first = await Queues.ClaimAsync(agent, [q.Id], T0, T0.AddSeconds(30), Prepare, default);
        await Queues.UpdateItemAsync(e.Id, "i", i => ItemLifecycle.Release(i, 1, first!.Run.Id, T0.AddSeconds(1)), default);
        var second = await Queues.ClaimAsync(agent, [q.Id], T0.AddSeconds(2), T0.AddSeconds(32), Prepare, default);

        await Assert.ThrowsAsync<ItemConflictException>(() => Queues.UpdateItemAsync(e.Id, "i", i => ItemLifecycle.Release(i, 1, first!.Run.Id, T0.AddSeconds(3)), default));

        var item = (await Queues.GetItemAsync(e.Id, "i", default))!;
        Assert.Equal((ItemStates.Leased, second!.Run.Id), (item.State, item.RunId));
        Assert.Equal(RunStates.Pending, (await Runs.GetRunAsync(e.Id, second.Run.Id, default))!.State);
    }
}
