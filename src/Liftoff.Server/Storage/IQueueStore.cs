using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;

namespace Liftoff.Server.Storage;

/// <summary>Queues, their launch items and the agents that claim them. Every call is scoped to the caller's entity.</summary>
internal interface IQueueStore
{
    /// <summary>Throws <see cref="DuplicateException"/> when the entity has a queue of that name.</summary>
    Task<QueueRecord> CreateQueueAsync(long entityId, QueueRecord queue, CancellationToken cancellationToken);

    Task<QueueRecord?> GetQueueAsync(long entityId, string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<QueueRecord>> ListQueuesAsync(long entityId, CancellationToken cancellationToken);

    Task<QueueStats> GetQueueStatsAsync(long queueId, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the settings of queue <paramref name="name"/> with what <paramref name="change"/> makes of them (its id,
    /// entity, name, resource and creation time stay), in one transaction that holds the queue's row; null when there is
    /// no such queue. Items claimed afterwards take the new settings.
    /// </summary>
    Task<QueueRecord?> UpdateQueueAsync(long entityId, string name, Func<QueueRecord, QueueRecord> change, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the queue and its items. With active (pending or held) items it throws <see cref="ItemConflictException"/>
    /// unless <paramref name="force"/>; forced, their runs end as killed. False when there is no such queue.
    /// </summary>
    Task<bool> DeleteQueueAsync(long entityId, string name, bool force, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a pending item. With an idempotency key the entity used before, returns that earlier item instead
    /// (<c>Created</c> false) and stores nothing.
    /// </summary>
    Task<(ItemRecord Item, bool Created)> EnqueueAsync(long entityId, long queueId, ItemRecord item, CancellationToken cancellationToken);

    Task<ItemRecord?> GetItemAsync(long entityId, string itemId, CancellationToken cancellationToken);

    Task<ItemRecord?> FindItemByRunAsync(long entityId, string runId, CancellationToken cancellationToken);

    /// <summary>The items that launched the given runs, by run id; runs not launched from a queue are absent.</summary>
    Task<IReadOnlyDictionary<string, ItemRecord>> FindItemsByRunsAsync(long entityId, IReadOnlyCollection<string> runIds, CancellationToken cancellationToken);

    /// <summary>Pending items in claim order (priority, then age) first, then the others newest first.</summary>
    Task<IReadOnlyList<ItemRecord>> ListItemsAsync(long queueId, string? state, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Hands the highest-priority, oldest pending item of <paramref name="queueIds"/> to the agent, atomically: the item
    /// is leased, and the attempt's run and its run-scoped key (from <paramref name="prepare"/>) are stored in the same
    /// transaction. Null when no item is pending.
    /// </summary>
    Task<ClaimedItem?> ClaimAsync(AgentRecord agent, IReadOnlyList<long> queueIds, DateTimeOffset now, DateTimeOffset leaseUntil, Func<ItemRecord, QueueRecord, ClaimedRun> prepare, CancellationToken cancellationToken);

    /// <summary>
    /// Applies <paramref name="change"/> (the item life cycle) atomically. When the item ends, its run-scoped keys are
    /// revoked; a cancelled item's run ends as killed, a failed item's run that never started as failed.
    /// Null when the item is not the entity's.
    /// </summary>
    Task<ItemRecord?> UpdateItemAsync(long entityId, string itemId, Func<ItemRecord, ItemRecord> change, CancellationToken cancellationToken);

    /// <summary>Retried items whose backoff ended become claimable; returns their queues, to wake the claims waiting there.</summary>
    Task<IReadOnlyList<long>> PromoteBackoffsAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The item's history, oldest first; null when the item is not the entity's.</summary>
    Task<IReadOnlyList<ItemEvent>?> GetItemHistoryAsync(long entityId, string itemId, CancellationToken cancellationToken);

    /// <summary>
    /// Items whose lease ran out (an infrastructure failure) go back to pending after a backoff while their retry policy
    /// allows, else fail; their runs crash.
    /// </summary>
    Task<IReadOnlyList<ItemRecord>> ExpireLeasesAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Held items that have not reached running within their queue's start timeout fail.</summary>
    Task<IReadOnlyList<ItemRecord>> TimeOutStartsAsync(DateTimeOffset now, CancellationToken cancellationToken);

    Task<AgentRecord> RegisterAgentAsync(long entityId, AgentRecord agent, CancellationToken cancellationToken);

    Task<AgentRecord?> GetAgentAsync(long entityId, string agentId, CancellationToken cancellationToken);

    Task<AgentRecord?> UpdateAgentAsync(long entityId, string agentId, Func<AgentRecord, AgentRecord> change, CancellationToken cancellationToken);

    Task<IReadOnlyList<AgentRecord>> ListAgentsAsync(long entityId, CancellationToken cancellationToken);

    /// <summary>Every queue's load and every agent not stopped, at one moment, across entities (the metrics' gauges).</summary>
    Task<QueueSample> SampleQueuesAsync(CancellationToken cancellationToken);
}

internal sealed record QueueRecord(
    long Id,
    string Entity,
    string Name,
    string Resource,
    string ConfigJson,
    IReadOnlyList<TemplateVariable> TemplateVariables,
    int MaxAttempts,
    int StartTimeoutSeconds,
    DateTimeOffset CreatedAt,
    IReadOnlyList<string>? AllowedMembers = null,
    string? RetryPolicyJson = null,
    int? MaxRunSeconds = null);

internal sealed record QueueStats(IReadOnlyDictionary<string, long> Counts, DateTimeOffset? OldestPendingAt);

internal sealed record AgentRecord(
    string Id,
    string Entity,
    string Name,
    IReadOnlyList<string> Queues,
    string? Version,
    string? Host,
    int MaxJobs,
    string State,
    int RunningItems,
    DateTimeOffset RegisteredAt,
    DateTimeOffset HeartbeatAt,
    bool StopRequested);

/// <summary>The run a claim starts and the key scoped to it.</summary>
internal sealed record ClaimedRun(RunRecord Run, NewKey Key);

internal sealed record ClaimedItem(ItemRecord Item, QueueRecord Queue, RunRecord Run);

/// <summary>Pending items by priority with the oldest one's enqueue time, each queue's held items, and the agents that have not stopped.</summary>
internal sealed record QueueSample(IReadOnlyList<PendingCount> Pending, IReadOnlyList<QueueLoad> Queues, IReadOnlyList<AgentBeat> Agents);

internal sealed record PendingCount(string Entity, string Queue, int Priority, long Count, DateTimeOffset Oldest);

internal sealed record QueueLoad(string Entity, string Queue, long Held);

internal sealed record AgentBeat(string State, DateTimeOffset HeartbeatAt);
