using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Runs;

/// <summary>Marks running runs whose heartbeats stopped as crashed (DESIGN.md §4).</summary>
internal sealed class RunReaper(IRunStore runs, RunSignals signals, ServerOptions options, TimeProvider time, ILogger<RunReaper> logger) : PeriodicSweep(time, logger)
{
    protected override TimeSpan Period => options.RunHeartbeatTimeout / 4;

    protected override string Failure => "Crash detection failed";

    internal override async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        foreach (var id in await runs.CrashSilentRunsAsync(now - options.RunHeartbeatTimeout, now, cancellationToken))
        {
            Logger.LogWarning("Run {RunId} sent no heartbeat for {Timeout}; marked crashed", id, options.RunHeartbeatTimeout);
            signals.Notify(id);
        }
    }
}
