using System.Text.Json;
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
        // The previous attempt's failure stays in the history; the item now speaks for this attempt.
        return item with
        {
            State = ItemStates.Leased, AgentId = agentId, RunId = runId, ClaimedAt = now, StartedAt = null, LeaseExpiresAt = leaseUntil,
            Phase = null, Error = null, FailureClass = null, ClaimableAt = null,
        };
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
    /// <remarks>
    /// A failure carries the class the agent saw (<c>user</c> when it gives none) and may be retried under the item's
    /// policy (<see cref="Fail"/>); <paramref name="random"/> in [0, 1) draws the backoff's jitter.
    /// </remarks>
    public static ItemRecord Report(ItemRecord item, int attempt, string state, string? phase, string? message, DateTimeOffset now, DateTimeOffset leaseUntil,
        string? failureClass = null, int? exitCode = null, double random = 0)
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
            ItemStates.Failed => Fail(Move(item, state, Held), failureClass ?? FailureClasses.User, phase ?? ItemPhases.Run, message ?? "the workload failed", exitCode, now, random),
            ItemStates.Cancelled when item.CancelRequested => End(item, state, null, null, now) with { FailureClass = FailureClasses.Cancelled },
            ItemStates.Cancelled => throw new ItemConflictException($"item {item.Id} was not asked to cancel"),
            _ => throw new ItemConflictException($"'{state}' is not a state an agent reports: starting, running, finished, failed or cancelled"),
        };
    }

    /// <summary>A cancel request: pending items end at once, held ones wait for their agent to stop the workload.</summary>
    public static ItemRecord Cancel(ItemRecord item, DateTimeOffset now) => item.State switch
    {
        ItemStates.Pending => item with { State = ItemStates.Cancelled, CancelRequested = true, EndedAt = now, FailureClass = FailureClasses.Cancelled, ClaimableAt = null },
        _ when item.IsHeld => item with { State = ItemStates.Stopping, CancelRequested = true },
        _ => item,
    };

    /// <summary>The lease ran out: the agent is gone. An infrastructure failure: retried while the item's policy allows.</summary>
    public static ItemRecord Expire(ItemRecord item, DateTimeOffset now, double random = 0)
    {
        if (item.CancelRequested)
        {
            return item with { State = ItemStates.Cancelled, EndedAt = now, LeaseExpiresAt = null, FailureClass = FailureClasses.Cancelled };
        }

        return Fail(item, FailureClasses.Infrastructure, ItemPhases.Run, "its agent stopped answering (lease expired)", null, now, random);
    }

    /// <summary>
    /// A failed attempt of a held item: another attempt, pending again once its backoff ends, while the budget of the
    /// failure's class (and the item's <see cref="ItemRecord.MaxAttempts"/>) allows; else the item ends failed. A
    /// non-zero exit code the policy lists in <c>retry_on_exit_codes</c> is retried under the infrastructure budget
    /// (137 and 143 are how an out-of-memory killer or a reclaimed node usually ends a process); its class stays what
    /// the agent saw. A cancel requested meanwhile is never retried.
    /// </summary>
    public static ItemRecord Fail(ItemRecord item, string failureClass, string phase, string message, int? exitCode, DateTimeOffset now, double random)
    {
        var policy = RetryPolicies.Parse(item.RetryPolicyJson);
        var budget = exitCode is { } code && code != 0 && failureClass == FailureClasses.User && (policy.RetryOnExitCodes ?? []).Contains(code)
            ? FailureClasses.Infrastructure
            : failureClass;
        var retries = ParseRetries(item.RetriesJson);
        var spent = retries.GetValueOrDefault(budget);
        var allowed = policy.Attempts?.GetValueOrDefault(budget) ?? 0;
        if (item.CancelRequested || failureClass == FailureClasses.Cancelled || spent >= allowed || item.Attempt >= item.MaxAttempts)
        {
            var why = item.CancelRequested || failureClass == FailureClasses.Cancelled ? ""
                : spent >= allowed ? (allowed == 0 ? "" : $" (no {budget} retries left: {allowed} allowed)")
                : $" (attempt {item.Attempt} of {item.MaxAttempts})";
            return item with
            {
                State = ItemStates.Failed,
                Phase = phase,
                Error = message + why,
                FailureClass = failureClass,
                EndedAt = now,
                LeaseExpiresAt = null,
                ClaimableAt = null,
            };
        }

        retries[budget] = spent + 1;
        return item with
        {
            State = ItemStates.Pending,
            Attempt = item.Attempt + 1,
            Phase = phase,
            Error = message,
            FailureClass = failureClass,
            ClaimableAt = now + RetryPolicies.Delay(policy.Backoff ?? RetryPolicies.Default.Backoff!, spent + 1, random),
            RetriesJson = JsonSerializer.Serialize<IReadOnlyDictionary<string, int>>(retries, LiftoffJsonContext.Default.IReadOnlyDictionaryStringInt32),
            AgentId = null,
            RunId = null,
            ClaimedAt = null,
            StartedAt = null,
            LeaseExpiresAt = null,
        };
    }

    /// <summary>A retried item's backoff has ended: claimable again.</summary>
    public static ItemRecord Promote(ItemRecord item, DateTimeOffset now) =>
        item.State == ItemStates.Pending && item.ClaimableAt is { } at && at <= now ? item with { ClaimableAt = null } : item;

    /// <summary>Whether a change retried the item (a failed attempt sent back to pending): its queue is woken when the backoff ends.</summary>
    public static bool IsRetry(ItemRecord before, ItemRecord after) => before.IsHeld && after.State == ItemStates.Pending && after.Attempt > before.Attempt;

    private static Dictionary<string, int> ParseRetries(string? json) =>
        new(json is null ? [] : JsonSerializer.Deserialize(json, LiftoffJsonContext.Default.IReadOnlyDictionaryStringInt32) ?? new Dictionary<string, int>(), StringComparer.Ordinal);

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
            ? End(item, ItemStates.Cancelled, null, null, now) with { FailureClass = FailureClasses.Cancelled }
            : item with { State = ItemStates.Pending, AgentId = null, RunId = null, ClaimedAt = null, StartedAt = null, LeaseExpiresAt = null };
    }

    /// <summary>Whether a change is a <see cref="Release"/>: the store then ends the released attempt's run killed.</summary>
    public static bool IsRelease(ItemRecord before, ItemRecord after) => before.IsHeld && after.State == ItemStates.Pending && after.Attempt == before.Attempt;

    /// <summary>An item stuck in starting (build, pull) past the queue's start timeout: a timeout failure, retried as the policy allows.</summary>
    public static ItemRecord TimeOutStart(ItemRecord item, TimeSpan timeout, DateTimeOffset now, double random = 0) =>
        Fail(item, FailureClasses.Timeout, ItemPhases.Start, $"the item stayed in starting for more than {timeout.TotalSeconds:0} s (the queue's start timeout)", null, now, random);

    private static readonly string[] Held = [ItemStates.Leased, ItemStates.Starting, ItemStates.Running, ItemStates.Stopping];

    private static ItemRecord End(ItemRecord item, string state, string? phase, string? message, DateTimeOffset now) =>
        Move(item, state, Held) with
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
