using System.Collections.Concurrent;

namespace Liftoff.Server.Runs;

/// <summary>
/// Wakes readers following a run (log streams) when this process stores something for it. Only a hint: readers
/// also re-check the store on a short timeout, so replicas that do not share this object still see every line.
/// </summary>
internal sealed class RunSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    public void Notify(string runId)
    {
        if (_waiters.TryRemove(runId, out var waiter))
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>Completes when the run changes here, after <paramref name="timeout"/>, or on cancellation (without throwing).</summary>
    public async Task WaitAsync(string runId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waiter = _waiters.GetOrAdd(runId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await waiter.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
