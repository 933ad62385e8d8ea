using System.Globalization;
using Liftoff.Contracts;
using Liftoff.Targets.LocalProcess;

namespace Liftoff.Targets.Slurm;

/// <summary>A Slurm job as <c>squeue</c> (or, once squeue has forgotten it, <c>sacct</c>) reports it.</summary>
/// <param name="State">The base state (<c>PENDING</c>, <c>RUNNING</c>, <c>COMPLETED</c>, …), without sacct's "by UID" suffix.</param>
/// <param name="Reason">Why it is pending (<c>Resources</c>, <c>Priority</c>, <c>PartitionDown</c>…), or how it ended; <c>None</c> when Slurm gives none.</param>
/// <param name="ExitCode">The batch script's exit code, 128 + N when signal N ended it; null while it runs.</param>
internal sealed record SlurmJobState(string JobId, string State, string Reason, int? ExitCode, string Name, string Comment)
{
    /// <summary>States after which the job will not run again (a requeued job goes back to PENDING instead).</summary>
    private static readonly HashSet<string> Ended = new(StringComparer.Ordinal)
    {
        "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT",
    };

    public bool IsEnded => Ended.Contains(State);

    public bool IsPending => State is "PENDING" or "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED" or "RESV_DEL_HOLD";
}

/// <summary>A Slurm command failed in a way that says nothing about the job (the controller is unreachable, a timeout).</summary>
internal sealed class SlurmUnavailableException(string message) : Exception(message);

/// <summary>
/// The Slurm commands the runner uses, run on the agent's (login) node as its user, and their output parsed: <c>sbatch</c>
/// to submit, <c>squeue</c> to read a job (finished jobs stay there for the cluster's MinJobAge), <c>sacct</c> for a job
/// squeue has forgotten (when the site keeps accounting), <c>scancel</c> to signal and cancel.
/// </summary>
internal sealed class SlurmCommands(SlurmSettings settings)
{
    /// <summary>squeue's <c>--Format</c>: each field ends with <c>|</c>, unpadded; the comment is last, so nothing it holds shifts the others.</summary>
    private const string QueueFormat = "JobID:|,State:|,Reason:|,exit_code:|,Name:|,Comment:|";

    /// <summary>Submits <paramref name="script"/>; returns the job id.</summary>
    public async Task<string> SubmitAsync(string script, string workingDirectory, CancellationToken cancellationToken)
    {
        // The script says --export=NONE too; on the command line it also outranks an SBATCH_EXPORT in the agent's environment.
        var result = await Tool.RunAsync(ItemPhases.Submit, settings.Sbatch, ["--parsable", "--export=NONE", script], workingDirectory, null, cancellationToken);
        // --parsable prints "ID" or "ID;CLUSTER"; a site's job_submit plugin may add lines of its own on stderr.
        var id = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(';')[0])
            .LastOrDefault(line => line.Length > 0 && line.All(char.IsAsciiDigit));
        if (result.ExitCode != 0 || id is null)
        {
            throw new LaunchException(ItemPhases.Submit, $"sbatch refused the job (exit {result.ExitCode}):\n{result.Tail()}");
        }

        return id;
    }

    /// <summary>The job's state; null when neither squeue nor sacct knows it.</summary>
    public async Task<SlurmJobState?> QueryAsync(string jobId, CancellationToken cancellationToken)
    {
        var result = await RunAsync(settings.Squeue, ["--noheader", "--states=all", "--jobs=" + jobId, "--Format=" + QueueFormat], cancellationToken);
        if (result.ExitCode == 0)
        {
            if (ParseQueue(result.Output).FirstOrDefault(j => j.JobId == jobId) is { } state)
            {
                return state;
            }
        }
        else if (!result.Output.Contains("Invalid job id", StringComparison.Ordinal))
        {
            throw new SlurmUnavailableException($"squeue failed (exit {result.ExitCode}): {result.Tail(3)}");
        }

        return await AccountingAsync(jobId, cancellationToken);
    }

    /// <summary>Every job of this user squeue knows (running, pending, or ended within MinJobAge).</summary>
    public async Task<IReadOnlyList<SlurmJobState>> ListOwnAsync(CancellationToken cancellationToken)
    {
        var result = await RunAsync(settings.Squeue, ["--noheader", "--states=all", "--me", "--Format=" + QueueFormat], cancellationToken);
        return result.ExitCode == 0
            ? ParseQueue(result.Output)
            : throw new SlurmUnavailableException($"squeue failed (exit {result.ExitCode}): {result.Tail(3)}");
    }

    /// <summary>Sends <paramref name="signal"/> to the job's steps (the entrypoint's tasks); false when Slurm refused (the job is not running).</summary>
    public async Task<bool> SignalAsync(string jobId, string signal, CancellationToken cancellationToken) =>
        (await RunAsync(settings.Scancel, ["--signal=" + signal, jobId], cancellationToken)).ExitCode == 0;

    /// <summary>Cancels the job (pending: it never starts; running: Slurm's own TERM, then KILL after its KillWait).</summary>
    public async Task CancelAsync(string jobId, CancellationToken cancellationToken)
    {
        var result = await RunAsync(settings.Scancel, [jobId], cancellationToken);
        if (result.ExitCode != 0 && !result.Output.Contains("already completing or completed", StringComparison.OrdinalIgnoreCase)
            && !result.Output.Contains("Invalid job id", StringComparison.Ordinal))
        {
            throw new SlurmUnavailableException($"scancel {jobId} failed (exit {result.ExitCode}): {result.Tail(3)}");
        }
    }

    /// <summary>sacct's record of the job: the only source once squeue forgot it; null when accounting is off or has no record.</summary>
    private async Task<SlurmJobState?> AccountingAsync(string jobId, CancellationToken cancellationToken)
    {
        var result = await RunAsync(settings.Sacct, ["--noheader", "--parsable2", "--allocations", "--jobs=" + jobId, "--format=JobID,State,ExitCode,JobName,Reason,Comment"], cancellationToken);
        if (result.ExitCode != 0)
        {
            return null;
        }

        foreach (var line in result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('|', 6);
            if (fields.Length == 6 && fields[0] == jobId)
            {
                // "CANCELLED by 1000"; ExitCode is "CODE:SIGNAL".
                var state = fields[1].Split(' ')[0];
                var parts = fields[2].Split(':');
                int? exit = parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var code) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var signal)
                    ? signal != 0 ? 128 + signal : code
                    : null;
                return new SlurmJobState(jobId, state, fields[4], exit, fields[3], fields[5]);
            }
        }

        return null;
    }

    /// <summary>squeue's lines (see <see cref="QueueFormat"/>); a line that does not parse (a warning) is skipped.</summary>
    internal static List<SlurmJobState> ParseQueue(string output)
    {
        var jobs = new List<SlurmJobState>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('|', 6);
            if (fields.Length != 6 || fields[0].Length == 0 || !fields[0].All(char.IsAsciiDigit) || !int.TryParse(fields[3], CultureInfo.InvariantCulture, out var status))
            {
                continue;
            }

            var comment = fields[5].EndsWith('|') ? fields[5][..^1] : fields[5];
            var state = fields[1];
            jobs.Add(new SlurmJobState(fields[0], state, fields[2], state is "PENDING" or "RUNNING" ? null : ExitCode(status), fields[4], comment == "(null)" ? "" : comment));
        }

        return jobs;
    }

    /// <summary>squeue's exit_code is the batch script's raw wait status: the code in the high byte, a signal in the low bits.</summary>
    internal static int ExitCode(int status) => (status & 0x7f) != 0 ? 128 + (status & 0x7f) : (status >> 8) & 0xff;

    private static async Task<Tool.Result> RunAsync(string command, string[] args, CancellationToken cancellationToken)
    {
        try
        {
            return await Tool.RunAsync(ItemPhases.Submit, command, args, null, null, cancellationToken);
        }
        catch (LaunchException ex)
        {
            throw new SlurmUnavailableException(ex.Message);
        }
    }
}
