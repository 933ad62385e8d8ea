using System.Collections.Concurrent;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Hosting;
using Liftoff.Server.Launch;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>
/// Claims, leases, start timeouts and the reapers that enforce them, on a clock the test moves: a lease runs out
/// when the test says so, not after real seconds.
/// </summary>
public abstract partial class StoreContract
{
    private static readonly ServerOptions ReaperOptions = new()
    {
        DataDirectory = "unused", ItemLease = TimeSpan.FromSeconds(30), RunHeartbeatTimeout = TimeSpan.FromSeconds(60),
    };

    private readonly FakeTimeProvider _clock = new(T0);

    private readonly RunSignals _runSignals = new();

    [Fact]
    public async Task Claim_WhenFourAgentsRace_HandsOutEachItemOnce()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        var enqueued = Enumerable.Range(0, 60).Select(i => $"i{i}").ToList();
        foreach (var id in enqueued)
        {
            await Queues.EnqueueAsync(e.Id, q.Id, NewItem(id, "q"), default);
        }

        var agents = new List<AgentRecord>();
        for (var i = 0; i < 4; i++)
        {
            agents.Add(await Queues.RegisterAgentAsync(e.Id, NewAgent($"a{i}", "q"), default));
        }

        var claimed = new ConcurrentBag<(string Item, string Agent)>();
        await Task.WhenAll(agents.Select(agent => Task.Run(async () =>
        {
            while (await ClaimNowAsync(agent, q.Id) is { } claim)
            {
                claimed.Add((claim.Item.Id, claim.Item.AgentId!));
            }
        })));

        Assert.Equal(enqueued.Order(StringComparer.Ordinal), claimed.Select(c => c.Item).Order(StringComparer.Ordinal));
        foreach (var (item, agent) in claimed)
        {
            Assert.Equal((ItemStates.Leased, agent, 1), await StateAgentAttemptAsync(e.Id, item));
        }
    }

    [Fact]
    public async Task Claim_LeasesTheItemUntilTheGivenTime_WithTheAttemptAsItsFencingToken()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "q"), default);

        var claimed = (await ClaimNowAsync(agent, q.Id))!;

        var item = claimed.Item;
        Assert.Equal((ItemStates.Leased, "x", claimed.Run.Id, 1), (item.State, item.AgentId, item.RunId, item.Attempt));
        Assert.Equal((T0, T0 + ReaperOptions.ItemLease), (item.ClaimedAt, item.LeaseExpiresAt));
        Assert.Equal(item, await Queues.GetItemAsync(e.Id, "i", default));
        Assert.Null(await ClaimNowAsync(agent, q.Id));
        var stale = await Assert.ThrowsAsync<ItemConflictException>(() => HeartbeatAsync(e.Id, "i", attempt: 2));
        Assert.Contains("drop this workload", stale.Message, StringComparison.Ordinal);
        Assert.Equal(T0 + ReaperOptions.ItemLease, (await Queues.GetItemAsync(e.Id, "i", default))!.LeaseExpiresAt);
    }

    [Fact]
    public async Task QueueReaper_OnceTheLeaseRunsOut_ReturnsTheItemAsANewAttempt_CrashesTheRun_AndFencesTheOldAttempt()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q"), default);
        var dies = await Queues.RegisterAgentAsync(e.Id, NewAgent("dies", "q"), default);
        var first = (await ClaimNowAsync(dies, q.Id))!;
        await ReportAsync(e.Id, "i", 1, ItemStates.Running);
        var reaper = NewQueueReaper();

        _clock.Advance(ReaperOptions.ItemLease - TimeSpan.FromSeconds(1));
        await reaper.SweepAsync(default);
        Assert.Equal((ItemStates.Running, "dies", 1), await StateAgentAttemptAsync(e.Id, "i"));

        _clock.Advance(TimeSpan.FromSeconds(2));
        await reaper.SweepAsync(default);

        var requeued = (await Queues.GetItemAsync(e.Id, "i", default))!;
        Assert.Equal((ItemStates.Pending, 2, null, null), (requeued.State, requeued.Attempt, requeued.AgentId, requeued.RunId));
        var crashed = (await Runs.GetRunAsync(e.Id, first.Run.Id, default))!;
        Assert.Equal((RunStates.Crashed, _clock.GetUtcNow()), (crashed.State, crashed.EndedAt));
        await Assert.ThrowsAsync<ItemConflictException>(() => ReportAsync(e.Id, "i", 1, ItemStates.Finished));
        await Assert.ThrowsAsync<ItemConflictException>(() => HeartbeatAsync(e.Id, "i", 1));
        var survives = await Queues.RegisterAgentAsync(e.Id, NewAgent("survives", "q"), default);
        Assert.Null(await ClaimNowAsync(survives, q.Id));
        _clock.Advance(requeued.ClaimableAt!.Value - _clock.GetUtcNow());
        await reaper.SweepAsync(default);
        var second = (await ClaimNowAsync(survives, q.Id))!;
        Assert.Equal(("i", 2), (second.Item.Id, second.Item.Attempt));
        Assert.NotEqual(first.Run.Id, second.Run.Id);
        Assert.Equal(ItemStates.Finished, (await ReportAsync(e.Id, "i", 2, ItemStates.Finished)).State);
    }

    [Fact]
    public async Task QueueReaper_OnceTheLeaseOfTheLastAttemptRunsOut_FailsTheItemSayingWhy()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i", "q") with { MaxAttempts = 1 }, default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("dies", "q"), default);
        var claimed = (await ClaimNowAsync(agent, q.Id))!;

        _clock.Advance(ReaperOptions.ItemLease + TimeSpan.FromSeconds(1));
        await NewQueueReaper().SweepAsync(default);

        var failed = (await Queues.GetItemAsync(e.Id, "i", default))!;
        Assert.Equal((ItemStates.Failed, ItemPhases.Run, _clock.GetUtcNow()), (failed.State, failed.Phase, failed.EndedAt));
        Assert.Contains("lease expired", failed.Error, StringComparison.Ordinal);
        Assert.Equal(RunStates.Crashed, (await Runs.GetRunAsync(e.Id, claimed.Run.Id, default))!.State);
        Assert.Null(await ClaimNowAsync(agent, q.Id));
    }

    [Fact]
    public async Task QueueReaper_WhileAnAgentHeartbeats_LeavesItsItemAndReturnsTheSilentAgentsItem()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("kept", "q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("lost", "q"), default);
        await ClaimNowAsync(await Queues.RegisterAgentAsync(e.Id, NewAgent("alive", "q"), default), q.Id);
        await ClaimNowAsync(await Queues.RegisterAgentAsync(e.Id, NewAgent("silent", "q"), default), q.Id);
        var reaper = NewQueueReaper();

        _clock.Advance(TimeSpan.FromSeconds(20));
        await HeartbeatAsync(e.Id, "kept", 1);
        await reaper.SweepAsync(default);
        _clock.Advance(TimeSpan.FromSeconds(20));
        await reaper.SweepAsync(default);

        Assert.Equal((ItemStates.Leased, "alive", 1), await StateAgentAttemptAsync(e.Id, "kept"));
        Assert.Equal(T0.AddSeconds(20) + ReaperOptions.ItemLease, (await Queues.GetItemAsync(e.Id, "kept", default))!.LeaseExpiresAt);
        Assert.Equal((ItemStates.Pending, null, 2), await StateAgentAttemptAsync(e.Id, "lost"));
    }

    [Fact]
    public async Task QueueReaper_PastTheStartTimeout_FailsTheItemStillStarting_AndWakesItsRunsFollowers()
    {
        var e = await NewEntityAsync("e");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q") with { StartTimeoutSeconds = 70 }, default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("slow", "q"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("started", "q"), default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "q"), default);
        var slow = (await ClaimNowAsync(agent, q.Id))!;
        await ClaimNowAsync(agent, q.Id);
        await ReportAsync(e.Id, "slow", 1, ItemStates.Starting);
        await ReportAsync(e.Id, "started", 1, ItemStates.Running);
        var reaper = NewQueueReaper();
        var woken = _runSignals.WaitAsync(slow.Run.Id, Timeout.InfiniteTimeSpan, default);

        async Task HeartbeatBothForFortySecondsAsync()
        {
            for (var i = 0; i < 2; i++)
            {
                _clock.Advance(TimeSpan.FromSeconds(20));
                await HeartbeatAsync(e.Id, "slow", 1);
                await HeartbeatAsync(e.Id, "started", 1);
                await reaper.SweepAsync(default);
            }
        }

        await HeartbeatBothForFortySecondsAsync();
        Assert.Equal(ItemStates.Starting, (await Queues.GetItemAsync(e.Id, "slow", default))!.State);
        await HeartbeatBothForFortySecondsAsync();

        var failed = (await Queues.GetItemAsync(e.Id, "slow", default))!;
        Assert.Equal((ItemStates.Failed, ItemPhases.Start), (failed.State, failed.Phase));
        Assert.Contains("start timeout", failed.Error, StringComparison.Ordinal);
        Assert.Equal(RunStates.Failed, (await Runs.GetRunAsync(e.Id, slow.Run.Id, default))!.State);
        Assert.Equal(ItemStates.Running, (await Queues.GetItemAsync(e.Id, "started", default))!.State);
        await woken.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task RunReaper_PastTheHeartbeatTimeout_CrashesTheSilentRun_KeepsTheHeartbeatingOne_AndWakesFollowers()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "silent"), default);
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "alive"), default);
        var reaper = new RunReaper(Runs, _runSignals, ReaperOptions, _clock, NullLogger<RunReaper>.Instance);
        var woken = _runSignals.WaitAsync("silent", Timeout.InfiniteTimeSpan, default);

        _clock.Advance(TimeSpan.FromSeconds(40));
        await Runs.UpdateRunAsync(e.Id, "alive", r => RunLifecycle.Alive(r, _clock.GetUtcNow()), default);
        await reaper.SweepAsync(default);
        Assert.Equal(RunStates.Running, (await Runs.GetRunAsync(e.Id, "silent", default))!.State);
        _clock.Advance(TimeSpan.FromSeconds(40));
        await reaper.SweepAsync(default);

        var crashed = (await Runs.GetRunAsync(e.Id, "silent", default))!;
        Assert.Equal((RunStates.Crashed, _clock.GetUtcNow()), (crashed.State, crashed.EndedAt));
        Assert.Equal(RunStates.Running, (await Runs.GetRunAsync(e.Id, "alive", default))!.State);
        await woken.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private readonly QueueSignals _queueSignals = new();

    private QueueReaper NewQueueReaper() => new(Queues, _runSignals, _queueSignals, ReaperOptions, _clock, NullLogger<QueueReaper>.Instance);

    /// <summary>A claim at the clock's now, leased for the server's lease as the claim API does.</summary>
    private Task<ClaimedItem?> ClaimNowAsync(AgentRecord agent, long queueId)
    {
        var now = _clock.GetUtcNow();
        return Queues.ClaimAsync(agent, [queueId], now, now + ReaperOptions.ItemLease, Prepare, default);
    }

    /// <summary>The agent's item heartbeat, as the heartbeat API applies it.</summary>
    private Task<ItemRecord?> HeartbeatAsync(long entityId, string itemId, int attempt) =>
        Queues.UpdateItemAsync(entityId, itemId, i => ItemLifecycle.Renew(i, attempt, _clock.GetUtcNow() + ReaperOptions.ItemLease), default);

    /// <summary>The agent's progress report, as the progress API applies it.</summary>
    private async Task<ItemRecord> ReportAsync(long entityId, string itemId, int attempt, string state)
    {
        var now = _clock.GetUtcNow();
        return (await Queues.UpdateItemAsync(entityId, itemId, i => ItemLifecycle.Report(i, attempt, state, null, null, now, now + ReaperOptions.ItemLease), default))!;
    }

    private async Task<(string State, string? Agent, int Attempt)> StateAgentAttemptAsync(long entityId, string itemId)
    {
        var item = (await Queues.GetItemAsync(entityId, itemId, default))!;
        return (item.State, item.AgentId, item.Attempt);
    }
}
