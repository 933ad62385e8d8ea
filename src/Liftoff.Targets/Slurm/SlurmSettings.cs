namespace Liftoff.Targets.Slurm;

/// <summary>
/// The agent config's <c>slurm:</c> section. The agent runs where <c>sbatch</c> works (a login node); <c>workdir</c> is
/// a folder on a file system the compute nodes see, holding each attempt's code, output and secrets file.
/// </summary>
internal sealed class SlurmSettings
{
    /// <summary>The shared working directory (required): an absolute path the compute nodes mount at the same place.</summary>
    public string? Workdir { get; set; }

    /// <summary>The Slurm commands; default each found on PATH.</summary>
    public string Sbatch { get; set; } = "sbatch";

    public string Squeue { get; set; } = "squeue";

    public string Sacct { get; set; } = "sacct";

    public string Scancel { get; set; } = "scancel";

    /// <summary>How often, in seconds, a job's state is read while it is pending or running.</summary>
    public double PollInterval { get; set; } = 2;

    /// <summary>slurmrestd's URL, where the site runs it; the commands are used otherwise.</summary>
    public string? SlurmrestdUrl { get; set; }

    /// <summary>The Liftoff server's URL as compute nodes see it; default the URL the agent uses.</summary>
    public string? ServerUrl { get; set; }

    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Workdir))
        {
            yield return "slurm.workdir: required: the shared working directory, a folder on a file system the compute nodes see";
        }
        else if (!Path.IsPathFullyQualified(Workdir))
        {
            yield return $"slurm.workdir: an absolute path (the compute nodes resolve it, not the agent's working directory), not '{Workdir}'";
        }

        foreach (var (key, command) in new[] { ("sbatch", Sbatch), ("squeue", Squeue), ("sacct", Sacct), ("scancel", Scancel) })
        {
            if (string.IsNullOrWhiteSpace(command) || command.Any(char.IsControl))
            {
                yield return $"slurm.{key}: the {key} command, a name on PATH or a path";
            }
        }

        if (!(PollInterval > 0 && PollInterval <= 300))
        {
            yield return "slurm.poll_interval: seconds between reads of a job's state, more than 0 and at most 300";
        }

        if (SlurmrestdUrl is { } rest && !(Uri.TryCreate(rest, UriKind.Absolute, out var restUri) && restUri.Scheme is "http" or "https" or "unix"))
        {
            yield return $"slurm.slurmrestd_url: an http(s) or unix URL of slurmrestd, not '{rest}'";
        }

        if (ServerUrl is { } url && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            yield return $"slurm.server_url: an http(s) URL compute nodes reach the Liftoff server at, not '{url}'";
        }
    }
}
