using System.ComponentModel;
using Xunit;

namespace Liftoff.Testing;

/// <summary>
/// The single-machine Slurm cluster <c>scripts/setup/slurm.sh</c> starts: <c>sinfo</c> answers, partition <c>debug</c>
/// (the default) and <c>batch</c> are up with their node idle, <c>held</c> is down (jobs sent there stay pending with
/// reason <c>PartitionDown</c>). Fails (never skips) naming what is missing. The compute node is this machine, so a
/// temporary folder is the "shared" working directory.
/// </summary>
public sealed class SlurmClusterFixture : IAsyncLifetime
{
    public const string DefaultPartition = "debug";

    public const string OtherPartition = "batch";

    /// <summary>A partition that is DOWN: a job sent there pends with reason <see cref="HeldReason"/> until cancelled.</summary>
    public const string HeldPartition = "held";

    public const string HeldReason = "PartitionDown";

    private const string Setup = "run scripts/setup/slurm.sh (as root) first";

    private readonly TempDirectory _workdir = new();

    /// <summary>The agents' <c>slurm.workdir</c>.</summary>
    public string Workdir => _workdir.Path;

    public async Task InitializeAsync()
    {
        ProcessResult sinfo;
        try
        {
            sinfo = await ProcessRunner.RunAsync("sinfo", ["--noheader", "--format=%P|%a|%T"], timeout: TimeSpan.FromSeconds(30));
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException($"sinfo is not installed ({ex.Message}): {Setup}", ex);
        }

        if (sinfo.ExitCode != 0)
        {
            throw new InvalidOperationException($"sinfo did not answer (no slurmctld, or munged is down): {sinfo.Stderr.Trim()}: {Setup}");
        }

        var partitions = sinfo.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('|'))
            .Where(f => f.Length == 3)
            .ToDictionary(f => f[0].TrimEnd('*'), f => (Availability: f[1], NodeState: f[2]));
        foreach (var (name, availability) in new[] { (DefaultPartition, "up"), (OtherPartition, "up"), (HeldPartition, "down") })
        {
            if (!partitions.TryGetValue(name, out var partition))
            {
                throw new InvalidOperationException($"the Slurm cluster has no partition '{name}' (sinfo lists {string.Join(", ", partitions.Keys)}): {Setup}");
            }

            if (partition.Availability != availability)
            {
                throw new InvalidOperationException($"partition '{name}' is {partition.Availability}, not {availability}: {Setup}");
            }

            if (availability == "up" && partition.NodeState is not ("idle" or "mixed" or "allocated" or "completing"))
            {
                throw new InvalidOperationException($"the node of partition '{name}' is {partition.NodeState}, so no job would start (see /var/log/slurm/slurmd.log): {Setup}");
            }
        }
    }

    public Task DisposeAsync()
    {
        _workdir.Dispose();
        return Task.CompletedTask;
    }
}
