using Liftoff.Contracts;
using Liftoff.Core.Json;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

public abstract partial class StoreContract
{
    [Fact]
    public async Task Claim_TakesHighestPriorityThenOldest_AcrossTheAgentsQueues()
    {
        var e = await NewEntityAsync("e");
        var a = await Queues.CreateQueueAsync(e.Id, NewQueue("a"), default);
        var b = await Queues.CreateQueueAsync(e.Id, NewQueue("b"), default);
        await Queues.EnqueueAsync(e.Id, a.Id, NewItem("a1", "a", priority: 2), default);
        await Queues.EnqueueAsync(e.Id, b.Id, NewItem("b1", "b", priority: 1), default);
        await Queues.EnqueueAsync(e.Id, a.Id, NewItem("a2", "a", priority: 1), default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "a", "b"), default);

        var order = new List<string>();
        while (await Queues.ClaimAsync(agent, [a.Id, b.Id], T0, T0.AddSeconds(30), Prepare, default) is { } claimed)
        {
            order.Add(claimed.Item.Id);
            Assert.Equal(RunStates.Pending, (await Runs.GetRunAsync(e.Id, claimed.Run.Id, default))!.State);
        }

        Assert.Equal(["b1", "a2", "a1"], order);
    }

    [Fact]
    public async Task Enqueue_WithAKeyUsedBefore_ReturnsTheEarlierItem()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);

        var first = await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i1", "q") with { IdempotencyKey = "k" }, default);
        var again = await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i2", "q") with { IdempotencyKey = "k" }, default);

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equal("i1", again.Item.Id);
        Assert.Single(await Queues.ListItemsAsync(q.Id, null, 10, default));
    }

    [Fact]
    public async Task ExpireLeases_RequeuesWithNextAttempt_CrashesTheRunAndRevokesItsKey()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "q"), default);
        var (claimed, secret) = await ClaimWithRunKeyAsync(agent, q.Id);
        Assert.Equal(claimed.Run.Id, (await Identities.FindKeyAsync(ApiKeys.Hash(secret), default))!.RunId);

        Assert.Empty(await Queues.ExpireLeasesAsync(T0.AddSeconds(29), default));
        var expired = Assert.Single(await Queues.ExpireLeasesAsync(T0.AddSeconds(31), default));

        Assert.Equal((ItemStates.Pending, 2), (expired.State, expired.Attempt));
        Assert.Equal(RunStates.Crashed, (await Runs.GetRunAsync(e.Id, claimed.Run.Id, default))!.State);
        Assert.Null(await Identities.FindKeyAsync(ApiKeys.Hash(secret), default));
    }

    [Fact]
    public async Task UpdateItem_WhenChangeThrows_WritesNothing()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);

        await Assert.ThrowsAsync<ItemConflictException>(() => Queues.UpdateItemAsync(e.Id, "i", i => ItemLifecycle.Renew(i, 1, T0), default));

        Assert.Equal(ItemStates.Pending, (await Queues.GetItemAsync(e.Id, "i", default))!.State);
        Assert.Null(await Queues.UpdateItemAsync(e.Id, "missing", i => i, default));
    }

    [Fact]
    public async Task Queues_OfAnotherEntity_AreInvisible()
    {
        var owner = await NewEntityAsync("owner");
        var other = await NewEntityAsync("other");
        var q = await Queues.CreateQueueAsync(owner.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(owner.Id, q.Id, NewItem("i", "q"), default);

        Assert.Null(await Queues.GetQueueAsync(other.Id, "q", default));
        Assert.Null(await Queues.GetItemAsync(other.Id, "i", default));
        Assert.Empty(await Queues.ListQueuesAsync(other.Id, default));
        Assert.NotNull(await Queues.CreateQueueAsync(other.Id, NewQueue("q"), default));
        await Assert.ThrowsAsync<DuplicateException>(() => Queues.CreateQueueAsync(owner.Id, NewQueue("q"), default));
    }

    private static QueueRecord NewQueue(string name) => new(0, "", name, Resources.LocalProcess, "{}", [], 3, 1800, T0);

    private static AgentRecord NewAgent(string id, params string[] queues) => new(id, "", id, queues, null, null, 1, AgentStates.Polling, 0, T0, T0, false);

    private static ItemRecord NewItem(string id, string queue, int priority = 2) => new(
        id, queue, "", ItemStates.Pending, priority, 1, 3, "train:v0", "{}", "proj", null, "{}", "{}", "{}", null, null, null, null, null,
        T0, null, null, null, null, false);

    /// <summary>Claims the queue's item at <see cref="T0"/> with a run key whose secret the test keeps, to see the key revoked.</summary>
    private async Task<(ClaimedItem Claimed, string Secret)> ClaimWithRunKeyAsync(AgentRecord agent, long queueId)
    {
        string? secret = null;
        var claimed = await Queues.ClaimAsync(agent, [queueId], T0, T0.AddSeconds(30), (item, queue) =>
        {
            var prepared = Prepare(item, queue);
            var (key, s) = ApiKeys.Create("run", T0);
            secret = s;
            return prepared with { Key = key with { RunId = prepared.Run.Id } };
        }, default);
        return (claimed!, secret!);
    }

    private static ClaimedRun Prepare(ItemRecord item, QueueRecord queue) => new(
        new RunRecord(RunIds.NewId(), item.Entity, item.Project, "n", RunStates.Pending, item.ConfigJson, JsonObjects.Empty, null, null, null, null, null, T0, null, null, null, false, null, 0),
        ApiKeys.Create("run", T0).Key);
}
