using System.Globalization;
using System.Text;
using Liftoff.Contracts;

namespace Liftoff.Targets.Slurm;

/// <summary>
/// What the runner writes into a job so a restarted agent finds it again (its name and comment), where an attempt's
/// files live under the shared working directory, and how a job's final Slurm state becomes a <see cref="WorkloadExit"/>.
/// </summary>
internal static class SlurmJobs
{
    public const string NamePrefix = "liftoff-";

    private const string CommentTag = "liftoff/v1";

    /// <summary>The job's name: the run and attempt, readable in <c>squeue</c>.</summary>
    public static string JobName(LaunchSpec spec) => $"{NamePrefix}{spec.RunId}-{spec.Attempt.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The job's comment: the agent, item, attempt, run and queue, each percent-encoded (so it holds no space, quote or
    /// <c>|</c>, which would break the sbatch directive or squeue's columns).
    /// </summary>
    public static string Comment(string agent, LaunchSpec spec) =>
        $"{CommentTag} agent={Uri.EscapeDataString(agent)} item={Uri.EscapeDataString(spec.ItemId)} attempt={spec.Attempt.ToString(CultureInfo.InvariantCulture)}"
        + $" run={Uri.EscapeDataString(spec.RunId)} queue={Uri.EscapeDataString(spec.Queue)}";

    /// <summary>The labels a comment of <see cref="Comment"/> carries; null for any other comment.</summary>
    public static Labels? ParseComment(string comment)
    {
        var parts = comment.Split(' ');
        if (parts.Length == 0 || parts[0] != CommentTag)
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in parts.Skip(1))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                values[part[..equals]] = Uri.UnescapeDataString(part[(equals + 1)..]);
            }
        }

        return values.TryGetValue("agent", out var agent) && values.TryGetValue("item", out var item) && values.TryGetValue("run", out var run)
            && values.TryGetValue("queue", out var queue) && values.TryGetValue("attempt", out var attemptText)
            && int.TryParse(attemptText, NumberStyles.None, CultureInfo.InvariantCulture, out var attempt)
                ? new Labels(agent, item, attempt, run, queue)
                : null;
    }

    /// <summary>The attempt's folder on the shared file system: code, batch script, secrets file, output.</summary>
    public static string AttemptDirectory(string workdir, string itemId, int attempt) =>
        Path.Combine(workdir, "attempts", $"{Safe(itemId)}-{attempt.ToString(CultureInfo.InvariantCulture)}");

    public static string OutputFile(string attemptDirectory) => Path.Combine(attemptDirectory, "output.log");

    public static string SecretsFile(string attemptDirectory) => Path.Combine(attemptDirectory, "secrets.env");

    public static string ScriptFile(string attemptDirectory) => Path.Combine(attemptDirectory, "job.sh");

    /// <summary>
    /// How the job ended. The batch script's exit code when the entrypoint ended by itself; Slurm's verdict as the reason
    /// when Slurm ended it. A job Slurm never started (cancelled while pending, a node that never booted) ends in
    /// <see cref="ItemPhases.Submit"/>.
    /// </summary>
    public static WorkloadExit Exit(SlurmJobState job, bool started)
    {
        var code = job.ExitCode ?? 1;
        var never = started ? null : ItemPhases.Submit;
        return job.State switch
        {
            "COMPLETED" => new WorkloadExit(code),
            "FAILED" when code != 0 => new WorkloadExit(code),
            "FAILED" => new WorkloadExit(1, $"Slurm job {job.JobId} FAILED: {job.Reason}", never),
            "TIMEOUT" => new WorkloadExit(code == 0 ? 143 : code, $"Slurm job {job.JobId} reached its time limit (TIMEOUT)"),
            "CANCELLED" => new WorkloadExit(code == 0 ? 143 : code, started
                ? $"Slurm job {job.JobId} was cancelled outside Liftoff (CANCELLED)"
                : $"Slurm job {job.JobId} was cancelled before it started (CANCELLED while pending: {job.Reason})", never),
            "OUT_OF_MEMORY" => new WorkloadExit(code == 0 ? 137 : code, $"Slurm job {job.JobId} ran out of memory (OUT_OF_MEMORY)"),
            "NODE_FAIL" => new WorkloadExit(code == 0 ? 1 : code, $"a node of Slurm job {job.JobId} failed (NODE_FAIL)", never),
            "PREEMPTED" => new WorkloadExit(code == 0 ? 143 : code, $"Slurm job {job.JobId} was preempted (PREEMPTED)"),
            "BOOT_FAIL" => new WorkloadExit(1, $"the nodes of Slurm job {job.JobId} failed to boot (BOOT_FAIL)", ItemPhases.Submit),
            "DEADLINE" => new WorkloadExit(code == 0 ? 1 : code, $"Slurm job {job.JobId} could not end before its deadline (DEADLINE)", never),
            _ => new WorkloadExit(code == 0 ? 1 : code, $"Slurm job {job.JobId} ended in state {job.State} ({job.Reason})", never),
        };
    }

    /// <summary>
    /// The variables of a secrets file <see cref="SlurmBatchScript.SecretsFileText"/> wrote (<c>export NAME='value'</c>,
    /// single quotes closed, escaped and reopened), read back so reports about a re-attached job stay redacted.
    /// </summary>
    public static Dictionary<string, string> ParseSecretsFile(string text)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < text.Length)
        {
            const string export = "export ";
            if (string.CompareOrdinal(text, i, export, 0, export.Length) != 0)
            {
                break;
            }

            var equals = text.IndexOf('=', i);
            if (equals < 0)
            {
                break;
            }

            var name = text[(i + export.Length)..equals];
            var value = new StringBuilder();
            i = equals + 1;
            while (i < text.Length && text[i] != '\n')
            {
                if (text[i] == '\'')
                {
                    var close = text.IndexOf('\'', i + 1);
                    if (close < 0)
                    {
                        return variables;
                    }

                    value.Append(text, i + 1, close - i - 1);
                    i = close + 1;
                }
                else if (text[i] == '\\' && i + 1 < text.Length)
                {
                    value.Append(text[i + 1]);
                    i += 2;
                }
                else
                {
                    value.Append(text[i]);
                    i++;
                }
            }

            variables[name] = value.ToString();
            i++;
        }

        return variables;
    }

    private static string Safe(string id) => string.Concat(id.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));

    /// <summary>What a job's comment says about it.</summary>
    internal sealed record Labels(string Agent, string ItemId, int Attempt, string RunId, string Queue);
}
