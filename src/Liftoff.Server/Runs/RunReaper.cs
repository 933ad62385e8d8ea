using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Runs;

/// <summary>Marks running runs whose heartbeats stopped as crashed (DESIGN.md §4).</summary>
internal sealed class RunReaper(IRunStore runs, RunSignals signals, ServerOptions options, TimeProvider time, ILogger<RunReaper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.RunHeartbeatTimeout / 4;
        using var timer = new PeriodicTimer(period < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : period, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Crash detection failed; retrying at the next tick");
            }
        }
    }

    /// <summary>One pass at the current time; the tests call it directly with a clock they move.</summary>
    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var id in await runs.CrashSilentRunsAsync(now - options.RunHeartbeatTimeout, now, cancellationToken))
        {
            logger.LogWarning("Run {RunId} sent no heartbeat for {Timeout}; marked crashed", id, options.RunHeartbeatTimeout);
            signals.Notify(id);
        }
    }
}
