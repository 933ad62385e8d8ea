using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Audit;

/// <summary>Deletes audit log entries older than <see cref="ServerOptions.AuditRetention"/>; the only removal of entries.</summary>
internal sealed class AuditSweeper(IAuditStore audit, ServerOptions options, TimeProvider time, ILogger<AuditSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.AuditRetention <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.AuditSweepInterval, time);
        do
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Audit log retention sweep failed; retrying at the next tick");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass at the current time.</summary>
    internal async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var deleted = await audit.DeleteAuditBeforeAsync(time.GetUtcNow() - options.AuditRetention, cancellationToken);
        if (deleted > 0)
        {
            logger.LogInformation("Deleted {Count} audit log entries older than {Retention}", deleted, options.AuditRetention);
        }

        return deleted;
    }
}
