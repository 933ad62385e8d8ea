using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Hosting;

/// <summary>
/// A pass over the store run every <see cref="Period"/> on the server's clock (a quarter of the timeout it enforces, so
/// that nothing waits much past it), never more often than every 100 ms. A failed pass is logged and the next tick tries
/// again: the work is idempotent and another replica may have done it meanwhile.
/// </summary>
internal abstract class PeriodicSweep(TimeProvider time, ILogger logger) : BackgroundService
{
    private static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(100);

    protected TimeProvider Time { get; } = time;

    protected ILogger Logger { get; } = logger;

    protected abstract TimeSpan Period { get; }

    /// <summary>What failed, for the log: the sentence before "; retrying at the next tick".</summary>
    protected abstract string Failure { get; }

    /// <summary>One pass at the current time; the tests call it directly with a clock they move.</summary>
    internal abstract Task SweepAsync(CancellationToken cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period < Shortest ? Shortest : Period, Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Logger.LogError(ex, "{Failure}; retrying at the next tick", Failure);
            }
        }
    }
}
