using System.Security.Cryptography;
using Liftoff.Core;
using Liftoff.Server.Blobs;
using Liftoff.Server.Hosting;
using Liftoff.Server.Metrics;
using Liftoff.Server.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Runs;

/// <summary>
/// Moves the console of runs that ended at least <see cref="ServerOptions.LogArchiveGrace"/> ago and hold more than
/// <see cref="ServerOptions.LogArchiveBytes"/> of console text into one blob each (DESIGN.md §5): seal the lines, copy
/// them to a temporary file a page at a time, store it as a blob, then record the blob and delete the rows in one
/// transaction. Replicas may sweep at once: the seal and the completion are conditional, and the blob is named by its
/// content, so the same work done twice stores one blob and completes once.
/// </summary>
internal sealed class ConsoleArchiver(IRunStore runs, IBlobStore blobs, ServerOptions options, TimeProvider time, ServerMetrics metrics, ILogger<ConsoleArchiver> logger) : BackgroundService
{
    private const int PageSize = 100;

    /// <summary>
    /// How far behind the cut-off the sweep keeps looking: a run whose end was written with a clock a little behind this
    /// server's, or committed just after a sweep read, is still found.
    /// </summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.LogArchiveGrace / 4;
        period = period < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : period > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : period;
        using var timer = new PeriodicTimer(period, time);
        var after = ConsoleToArchive.Start;
        var failures = 0;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            bool failed;
            try
            {
                (after, failed) = await SweepAsync(after, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Looking for consoles to archive failed");
                failed = true;
            }

            failures = failed ? failures + 1 : 0;
            if (failed)
            {
                // Capped exponential backoff with jitter, beyond the timer's period: a blob store that is down is not
                // hammered (nor the log filled) every tick.
                await Task.Delay(Backoff.Delay(failures - 1, TimeSpan.FromSeconds(2), MaxBackoff), time, stoppingToken);
            }
        }
    }

    /// <summary>
    /// Archives every due console after <paramref name="after"/>; returns where the next sweep starts: past every run
    /// archived, but not past one that failed, so that the next sweep tries it again (and the others get their turn now).
    /// </summary>
    private async Task<(ConsoleToArchive Next, bool Failed)> SweepAsync(ConsoleToArchive after, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - options.LogArchiveGrace;
        var next = after;
        var failed = false;
        while (true)
        {
            var due = await runs.FindConsolesToArchiveAsync(after, cutoff, options.LogArchiveBytes, PageSize, cancellationToken);
            foreach (var run in due)
            {
                try
                {
                    await ArchiveAsync(run.RunId, cutoff, cancellationToken);
                    metrics.ConsoleArchived(archived: true);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    logger.LogError(ex, "Archiving the console of run {RunId} failed; the next sweep tries again", run.RunId);
                    metrics.ConsoleArchived(archived: false);
                    failed = true;
                }

                after = run;
                next = failed ? next : run;
            }

            if (due.Count < PageSize)
            {
                var settled = new ConsoleToArchive(cutoff - Settle, "");
                return (failed || settled.EndedAt <= next.EndedAt ? next : settled, failed);
            }
        }
    }

    /// <summary>Archives the run's console now, if it ended no later than <paramref name="cutoff"/> (the sweep's step; the benchmark's too).</summary>
    internal async Task ArchiveAsync(string runId, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        if (await runs.SealConsoleAsync(runId, cutoff, time.GetUtcNow(), cancellationToken) is not { } seal)
        {
            return;
        }

        var temp = Path.Combine(options.DataDirectory, "tmp");
        Directory.CreateDirectory(temp);
        await using var file = new FileStream(Path.Combine(temp, $"console-{Guid.NewGuid():N}.ndjson.gz"), new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            Options = FileOptions.Asynchronous | FileOptions.DeleteOnClose,
        });
        await ConsoleBlob.WriteAsync(runs, runId, seal.Lines, file, cancellationToken);
        file.Position = 0;
        var digest = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
        var size = file.Length;
        file.Position = 0;
        await blobs.WriteAsync(digest, size, file, cancellationToken);
        if (await runs.CompleteConsoleArchiveAsync(runId, seal.Lines, digest, size, time.GetUtcNow(), cancellationToken))
        {
            logger.LogInformation("Archived console lines 0 to {LastLine} of run {RunId} to blob {Digest} ({Size} bytes)", seal.Lines - 1, runId, digest, size);
        }
    }
}
