using Liftoff.Contracts;

namespace Liftoff.Core.Launch;

/// <summary>
/// The launch item state machine of DESIGN.md §3. Every change names the states it may come from and, for the
/// agent's calls, the attempt (fencing token) it speaks for; anything else is a <see cref="ItemConflictException"/>.
/// </summary>
public static class ItemLifecycle
{
    /// <summary>Why the run of a released item ended killed.</summary>
    public const string ReleasedReason = "the agent shut down; requeued";

    public static bool IsTerminal(string state) => state is ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled;

    /// <summary>States in which an agent holds the item under a lease.</summary>
    public static bool IsHeld(string state) => state is ItemStates.Leased or ItemStates.Starting or ItemStates.Running or ItemStates.Stopping;

    public static ItemRecord Claim(ItemRecord item, string agentId, string runId, DateTimeOffset now, DateTimeOffset leaseUntil)
    {
        Expect(item, ItemStates.Pending);
        return item with { State = ItemStates.Leased, AgentId = agentId, RunId = runId, ClaimedAt = now, StartedAt = null, LeaseExpiresAt = leaseUntil };
    }

    /// <summary>Longest waiting reason kept: a reason is a word or a short sentence (a pod's may carry the scheduler's message).</summary>
    public const int MaxWaitingReasonChars = 200;

    public static ItemRecord Renew(ItemRecord item, int attempt, DateTimeOffset leaseUntil)
    {
        EnsureOwner(item, attempt);
        return item with { LeaseExpiresAt = leaseUntil };
    }

    /// <summary>
    /// The agent's heartbeat with what its workload waits for (null: not waiting). Kept only while the item is held: a
    /// move to running or to an end clears it (<see cref="Move"/>), a requeue with <see cref="Clear"/>.
    /// </summary>
    public static ItemRecord Renew(ItemRecord item, int attempt, DateTimeOffset leaseUntil, string? waitingReason) =>
        Renew(item, attempt, leaseUntil) with { WaitingReason = waitingReason };

    /// <summary>
    /// What the store keeps of <paramref name="item"/>: a waiting reason belongs to a held item, so an item that left
    /// its held states by any path (expiry, release, cancel, time-out) loses it.
    /// </summary>
    public static ItemRecord Clear(ItemRecord item) => item.WaitingReason is not null && !item.IsHeld ? item with { WaitingReason = null } : item;

    /// <summary>The agent's progress report.</summary>
    public static ItemRecord Report(ItemRecord item, int attempt, string state, string? phase, string? message, DateTimeOffset now, DateTimeOffset leaseUntil)
    {
        if (attempt == item.Attempt && state == item.State
            && state is ItemStates.Starting or ItemStates.Running or ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled)
        {
            // The same report again: an agent retrying because the answer to the first was lost (a replica died
            // under it). The first one moved the item; this one changes nothing.
            return item;
        }

        EnsureOwner(item, attempt);
        return state switch
        {
            ItemStates.Starting => Move(item, state, [ItemStates.Leased]) with { StartedAt = now, LeaseExpiresAt = leaseUntil },
            ItemStates.Running => Move(item, state, [ItemStates.Leased, ItemStates.Starting]) with { StartedAt = item.StartedAt ?? now, LeaseExpiresAt = leaseUntil },
            ItemStates.Finished => End(item, state, null, null, now),
            ItemStates.Failed => End(item, state, phase ?? ItemPhases.Run, message ?? "the workload failed", now),
            ItemStates.Cancelled when item.CancelRequested => End(item, state, null, null, now),
            ItemStates.Cancelled => throw new ItemConflictException($"item {item.Id} was not asked to cancel"),
            _ => throw new ItemConflictException($"'{state}' is not a state an agent reports: starting, running, finished, failed or cancelled"),
        };
    }

    /// <summary>A cancel request: pending items end at once, held ones wait for their agent to stop the workload.</summary>
    public static ItemRecord Cancel(ItemRecord item, DateTimeOffset now) => item.State switch
    {
        ItemStates.Pending => item with { State = ItemStates.Cancelled, CancelRequested = true, EndedAt = now },
        _ when item.IsHeld => item with { State = ItemStates.Stopping, CancelRequested = true },
        _ => item,
    };

    /// <summary>The lease ran out: the agent is gone. Another attempt, or failure once the attempts are spent.</summary>
    public static ItemRecord Expire(ItemRecord item, DateTimeOffset now)
    {
        if (item.CancelRequested)
        {
            return item with { State = ItemStates.Cancelled, EndedAt = now, LeaseExpiresAt = null };
        }

        return item.Attempt >= item.MaxAttempts
            ? item with
            {
                State = ItemStates.Failed,
                Phase = ItemPhases.Run,
                Error = $"its agent stopped answering (lease expired) on attempt {item.Attempt} of {item.MaxAttempts}",
                EndedAt = now,
                LeaseExpiresAt = null,
            }
            : item with { State = ItemStates.Pending, Attempt = item.Attempt + 1, AgentId = null, RunId = null, ClaimedAt = null, StartedAt = null, LeaseExpiresAt = null };
    }

    /// <summary>
    /// The agent stopped gracefully and stopped the workload: the item is pending again with the same attempt (a shutdown
    /// is not the item's failure), and its run ends killed. Fenced by the attempt and its run, because the next claim
    /// reuses the attempt number: only the run id tells this holder from the next. A cancel requested meanwhile ends
    /// the item cancelled instead. The same release again (its answer lost) changes nothing.
    /// </summary>
    public static ItemRecord Release(ItemRecord item, int attempt, string runId, DateTimeOffset now)
    {
        if (attempt == item.Attempt && item.State == ItemStates.Pending)
        {
            return item;
        }

        EnsureOwner(item, attempt);
        if (item.RunId != runId)
        {
            throw new ItemConflictException($"run {runId} is not the run of item {item.Id}'s attempt {attempt}; drop this workload");
        }

        return item.CancelRequested
            ? End(item, ItemStates.Cancelled, null, null, now)
            : item with { State = ItemStates.Pending, AgentId = null, RunId = null, ClaimedAt = null, StartedAt = null, LeaseExpiresAt = null };
    }

    /// <summary>Whether a change is a <see cref="Release"/>: the store then ends the released attempt's run killed.</summary>
    public static bool IsRelease(ItemRecord before, ItemRecord after) => before.IsHeld && after.State == ItemStates.Pending;

    /// <summary>An item stuck in starting (build, pull) past the queue's start timeout.</summary>
    public static ItemRecord TimeOutStart(ItemRecord item, TimeSpan timeout, DateTimeOffset now) => item with
    {
        State = ItemStates.Failed,
        Phase = ItemPhases.Start,
        Error = $"the item stayed in starting for more than {timeout.TotalSeconds:0} s (the queue's start timeout)",
        EndedAt = now,
        LeaseExpiresAt = null,
    };

    private static ItemRecord End(ItemRecord item, string state, string? phase, string? message, DateTimeOffset now) =>
        Move(item, state, [ItemStates.Leased, ItemStates.Starting, ItemStates.Running, ItemStates.Stopping]) with
        {
            Phase = phase,
            Error = message,
            EndedAt = now,
            LeaseExpiresAt = null,
        };

    private static ItemRecord Move(ItemRecord item, string to, string[] from)
    {
        if (!from.Contains(item.State))
        {
            throw new ItemConflictException($"item {item.Id} is {item.State}; it cannot become {to}");
        }

        // A cancel request outranks the agent's view: the item stays stopping until the agent reports the end.
        return item.State == ItemStates.Stopping && !IsTerminal(to) ? item : item with { State = to, WaitingReason = item.State == to ? item.WaitingReason : null };
    }

    private static void Expect(ItemRecord item, string state)
    {
        if (item.State != state)
        {
            throw new ItemConflictException($"item {item.Id} is {item.State}, not {state}");
        }
    }

    private static void EnsureOwner(ItemRecord item, int attempt)
    {
        if (attempt != item.Attempt || !item.IsHeld)
        {
            throw new ItemConflictException(
                $"attempt {attempt} of item {item.Id} no longer holds it (the item is {item.State}, attempt {item.Attempt}); drop this workload");
        }
    }
}

/// <summary>A request the item's state or fencing token does not allow (HTTP 409).</summary>
public sealed class ItemConflictException(string message) : Exception(message);
