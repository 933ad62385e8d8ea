using Liftoff.Server.Hosting;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Launch;

/// <summary>
/// Returns items of vanished agents (lease expired), fails items stuck in starting (DESIGN.md §3), and makes retried
/// items claimable once their backoff ends.
/// </summary>
internal sealed class QueueReaper(IQueueStore queues, RunSignals runSignals, QueueSignals queueSignals, ServerOptions options, TimeProvider time, ILogger<QueueReaper> logger) : PeriodicSweep(time, logger)
{
    protected override TimeSpan Period => options.ItemLease / 4;

    protected override string Failure => "Lease expiry failed";

    internal override async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        foreach (var item in await queues.ExpireLeasesAsync(now, cancellationToken))
        {
            Logger.LogWarning("Item {ItemId} on queue {Queue}: lease expired, now {State} (attempt {Attempt})", item.Id, item.Queue, item.State, item.Attempt);
        }

        foreach (var queueId in await queues.PromoteBackoffsAsync(now, cancellationToken))
        {
            queueSignals.Notify(queueId);
        }

        foreach (var item in await queues.TimeOutStartsAsync(now, cancellationToken))
        {
            Logger.LogWarning("Item {ItemId} on queue {Queue}: {Error}", item.Id, item.Queue, item.Error);
            if (item.RunId is { } runId)
            {
                runSignals.Notify(runId);
            }
        }
    }
}
