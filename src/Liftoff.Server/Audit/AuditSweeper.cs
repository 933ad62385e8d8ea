using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Audit;

/// <summary>Deletes audit log entries older than <see cref="ServerOptions.AuditRetention"/>; the only removal of entries.</summary>
internal sealed class AuditSweeper(IAuditStore audit, ServerOptions options, TimeProvider time, ILogger<AuditSweeper> logger) : PeriodicSweep(time, logger)
{
    protected override TimeSpan Period => options.AuditSweepInterval;

    protected override string Failure => "Audit log retention sweep failed";

    internal override async Task SweepAsync(CancellationToken cancellationToken)
    {
        var deleted = await audit.DeleteAuditBeforeAsync(Time.GetUtcNow() - options.AuditRetention, cancellationToken);
        if (deleted > 0)
        {
            Logger.LogInformation("Deleted {Count} audit log entries older than {Retention}", deleted, options.AuditRetention);
        }
    }
}
