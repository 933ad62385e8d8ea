using Liftoff.Server.Hosting;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Launch;

/// <summary>
/// Returns items of vanished agents (lease expired), fails items stuck in starting (DESIGN.md §3), and makes retried
/// items claimable once their backoff ends.
/// </summary>
internal sealed class QueueReaper(IQueueStore queues, RunSignals runSignals, QueueSignals queueSignals, ServerOptions options, TimeProvider time, ILogger<QueueReaper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.ItemLease / 4;
        using var timer = new PeriodicTimer(period < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : period, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Lease expiry failed; retrying at the next tick");
            }
        }
    }

    /// <summary>One pass at the current time; the tests call it directly with a clock they move.</summary>
    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var item in await queues.ExpireLeasesAsync(now, cancellationToken))
        {
            logger.LogWarning("Item {ItemId} on queue {Queue}: lease expired, now {State} (attempt {Attempt})", item.Id, item.Queue, item.State, item.Attempt);
        }

        foreach (var queueId in await queues.PromoteBackoffsAsync(now, cancellationToken))
        {
            queueSignals.Notify(queueId);
        }

        foreach (var item in await queues.TimeOutStartsAsync(now, cancellationToken))
        {
            logger.LogWarning("Item {ItemId} on queue {Queue}: {Error}", item.Id, item.Queue, item.Error);
            if (item.RunId is { } runId)
            {
                runSignals.Notify(runId);
            }
        }
    }
}
