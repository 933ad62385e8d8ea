using System.Collections.Concurrent;

namespace Liftoff.Server.Launch;

/// <summary>
/// Wakes long-polling claims when this process enqueues, and on PostgreSQL when any replica does (through
/// <see cref="Storage.Postgres.PostgresQueueListener"/>). A hint only: a waiting claim also re-checks the store every
/// second, so an enqueue whose signal is lost is seen too.
/// </summary>
internal sealed class QueueSignals
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _waiters = new();

    /// <summary>A task that completes at the next <see cref="Notify"/> of any of the queues; take it before looking.</summary>
    public Task NextChange(IEnumerable<long> queueIds) =>
        Task.WhenAny(queueIds.Select(id => _waiters.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task));

    public void Notify(long queueId)
    {
        if (_waiters.TryRemove(queueId, out var waiter))
        {
            waiter.TrySetResult();
        }
    }
}
