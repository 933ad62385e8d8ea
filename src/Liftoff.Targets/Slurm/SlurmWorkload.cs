using System.Text;

namespace Liftoff.Targets.Slurm;

/// <summary>
/// One submitted batch job, read every poll interval until it ends: while it is pending, each new pending reason is a
/// console line; once it runs, its output file (on the shared file system, written by the compute node) is followed into
/// the run's console; its final state becomes the exit (<see cref="SlurmJobs.Exit"/>). Disposing it removes the
/// attempt's folder, and with it the secrets file.
/// </summary>
/// <remarks>
/// The output goes to the console as <c>stdout</c> lines (the agent's own notes are <c>stderr</c>), so a re-attached
/// workload skips the <paramref name="forwardedLines"/> lines its predecessor already forwarded and replays the rest.
/// </remarks>
internal sealed class SlurmWorkload(SlurmCommands commands, string jobId, string attemptDirectory, RunConsole console, SlurmWorkload.Options options, TimeProvider time, long forwardedLines)
    : ILaunchedWorkload
{
    /// <summary>How long Slurm may stay unreachable (a controller restart, a failover) before the agent gives up on the job.</summary>
    private static readonly TimeSpan UnreachableLimit = TimeSpan.FromMinutes(10);

    /// <summary>A line longer than this is forwarded in pieces rather than held in memory whole.</summary>
    private const int MaxLineBytes = 64 * 1024;

    private readonly MemoryStream _partial = new();
    private long _offset;
    private long _lines;
    private bool _started;
    private volatile string? _waitingReason;

    public string JobId => jobId;

    public string? WaitingReason => _waitingReason;

    public async Task<WorkloadExit> WaitForExitAsync(CancellationToken cancellationToken)
    {
        string? lastPending = null;
        DateTimeOffset? unreachableSince = null;
        var backoff = Backoff.Default();
        while (true)
        {
            SlurmJobState? job;
            try
            {
                job = await commands.QueryAsync(jobId, cancellationToken);
                unreachableSince = null;
                backoff.Reset();
            }
            catch (SlurmUnavailableException) when (!cancellationToken.IsCancellationRequested)
            {
                // The job runs on without us: keep asking through controller restarts, for a while.
                unreachableSince ??= time.GetUtcNow();
                if (time.GetUtcNow() - unreachableSince > UnreachableLimit)
                {
                    throw;
                }

                await Task.Delay(backoff.Next(), time, cancellationToken);
                continue;
            }

            if (job is null)
            {
                await ForwardAsync(final: true, cancellationToken);
                return new WorkloadExit(1, $"Slurm no longer knows job {jobId} (squeue forgot it and sacct has no record): its end is unknown");
            }

            if (job.IsPending)
            {
                _waitingReason = job.Reason is "None" or "" ? null : job.Reason;
                if (job.Reason != lastPending && job.Reason is not ("None" or ""))
                {
                    lastPending = job.Reason;
                    await console.WriteAsync("stderr", $"[liftoff agent] Slurm job {jobId} is pending: {job.Reason}", cancellationToken);
                }
            }
            else
            {
                lastPending = null;
                _waitingReason = null;
                _started |= job.State is not "CANCELLED" || File.Exists(SlurmJobs.OutputFile(attemptDirectory));
            }

            if (job.IsEnded)
            {
                await ForwardAsync(final: true, cancellationToken);
                return SlurmJobs.Exit(job, _started);
            }

            await ForwardAsync(final: false, cancellationToken);
            await Task.Delay(options.Poll, time, cancellationToken);
        }
    }

    /// <summary>
    /// The grace signal to the entrypoint's tasks (SIGTERM, or the queue's <c>signal</c>), the hard stop (<c>scancel</c>)
    /// after <paramref name="grace"/>; returns once Slurm reports the job ended.
    /// </summary>
    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        var job = await commands.QueryAsync(jobId, cancellationToken);
        if (job is null || job.IsEnded)
        {
            return;
        }

        if (grace > TimeSpan.Zero && job.State == "RUNNING" && await commands.SignalAsync(jobId, options.GraceSignal, cancellationToken))
        {
            var deadline = time.GetUtcNow() + grace;
            while (time.GetUtcNow() < deadline)
            {
                await Task.Delay(Min(options.Poll, deadline - time.GetUtcNow()), time, cancellationToken);
                if (await commands.QueryAsync(jobId, cancellationToken) is not { IsEnded: false })
                {
                    return;
                }
            }
        }

        await HardStopAsync(commands, jobId, cancellationToken);
        while (await commands.QueryAsync(jobId, cancellationToken) is { IsEnded: false })
        {
            await Task.Delay(options.Poll, time, cancellationToken);
        }
    }

    /// <summary>
    /// The cancel that ends the job. A user cannot kill a step harder than this: slurmstepd turns even a SIGKILL request
    /// into SIGTERM, then SIGKILL after the cluster's KillWait (measured on 22.05).
    /// </summary>
    public static Task HardStopAsync(SlurmCommands commands, string jobId, CancellationToken cancellationToken) =>
        commands.CancelAsync(jobId, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _partial.Dispose();
        RemoveAttemptDirectory(attemptDirectory);
        return ValueTask.CompletedTask;
    }

    public static void RemoveAttemptDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A shared file system may still hold a file open on a compute node; the folder is the site's to clean then.
        }
    }

    /// <summary>Forwards what the output file gained since the last read, line by line; at the end also an unterminated last line.</summary>
    private async Task ForwardAsync(bool final, CancellationToken cancellationToken)
    {
        var path = SlurmJobs.OutputFile(attemptDirectory);
        if (!File.Exists(path))
        {
            return;
        }

        var buffer = new byte[64 * 1024];
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            file.Seek(_offset, SeekOrigin.Begin);
            int read;
            while ((read = await file.ReadAsync(buffer, cancellationToken)) > 0)
            {
                _offset += read;
                var start = 0;
                for (var i = 0; i < read; i++)
                {
                    if (buffer[i] == (byte)'\n')
                    {
                        _partial.Write(buffer, start, i - start);
                        start = i + 1;
                        await EmitAsync(cancellationToken);
                    }
                }

                _partial.Write(buffer, start, read - start);
                if (_partial.Length >= MaxLineBytes)
                {
                    await EmitAsync(cancellationToken);
                }
            }
        }

        if (final && _partial.Length > 0)
        {
            await EmitAsync(cancellationToken);
        }
    }

    private async Task EmitAsync(CancellationToken cancellationToken)
    {
        var line = Encoding.UTF8.GetString(_partial.GetBuffer(), 0, (int)_partial.Length).TrimEnd('\r');
        _partial.SetLength(0);
        if (++_lines > forwardedLines)
        {
            await console.WriteAsync("stdout", line, cancellationToken);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>How often the job is read, and the signal a polite stop sends.</summary>
    internal sealed record Options(TimeSpan Poll, string GraceSignal);
}
