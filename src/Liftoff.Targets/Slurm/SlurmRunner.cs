using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets.LocalProcess;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Targets.Slurm;

/// <summary>
/// The <c>slurm</c> target's runner, on a node where <c>sbatch</c> works. Each attempt gets a folder under the shared
/// <c>slurm.workdir</c>: code and git jobs are fetched there, with their virtual environment and the SDK in the same
/// caches local-process uses (kept under the shared folder, so compute nodes see them); the run key and resolved secrets
/// go into a mode-0600 file the batch script sources; the script (<see cref="SlurmBatchScript"/>) is submitted with
/// <c>sbatch</c>. Jobs carry their agent, item, attempt, run and queue in their comment, so a restarted agent finds
/// its own again.
/// </summary>
internal sealed class SlurmRunner(AgentOptions options, [FromKeyedServices(SlurmTarget.Key)] PythonCaches caches, LiftoffClient client, TimeProvider time)
    : ILaunchRunner, IReattachableRunner
{
    private SlurmSettings Settings => options.Target<SlurmSettings>();

    private SlurmCommands Commands => new(Settings);

    /// <summary>The agent's <c>slurm.workdir</c>; an agent without one refuses slurm items, naming the setting.</summary>
    public static string Workdir(AgentOptions options) => options.Target<SlurmSettings>().Workdir ?? throw new LaunchException(ItemPhases.Submit,
        "this agent's config has no slurm.workdir (a folder on a file system the compute nodes see), so it cannot run slurm jobs");

    public async Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var spec = context.Spec;
        var workdir = Workdir(options);
        SlurmResourceConfig config;
        try
        {
            config = SlurmResourceConfig.Parse(spec.ResourceConfig);
        }
        catch (ArgumentException ex)
        {
            throw new LaunchException(ItemPhases.Submit, ex.Message, ex);
        }

        if (spec.Entrypoint.Count == 0)
        {
            throw new LaunchException(ItemPhases.Submit, "the launch has no entrypoint: give the job one, or the launch --entrypoint");
        }

        var image = SlurmBatchScript.Image(spec);
        if ((image is not null || context.Job.SourceType == JobSourceTypes.Image) && config.Container == SlurmContainer.None)
        {
            throw new LaunchException(ItemPhases.Submit, "an image job cannot run on this slurm queue: its resource config names no container runtime (container: apptainer or enroot)");
        }

        var attempt = SlurmJobs.AttemptDirectory(workdir, spec.ItemId, spec.Attempt);
        // An earlier start of this very attempt that died before it submitted: start over.
        SlurmWorkload.RemoveAttemptDirectory(attempt);
        CreatePrivateDirectory(attempt);

        var directory = attempt;
        string? venv = null;
        string? sdkPath = null;
        if (image is null)
        {
            directory = await caches.Code.FetchAsync(context with { WorkDirectory = attempt }, cancellationToken);
            var requirements = context.Job.Runtime?.Requirements;
            var requirementsFile = Path.Combine(directory, "requirements.txt");
            if (string.IsNullOrWhiteSpace(requirements) && File.Exists(requirementsFile))
            {
                requirements = await File.ReadAllTextAsync(requirementsFile, cancellationToken);
            }

            venv = (await caches.Environments.GetAsync(options.Python, requirements, context.Console, cancellationToken)).Directory;
            sdkPath = await caches.Sdk.GetPathAsync(context.Client, cancellationToken);
        }

        var serverUrl = (Settings.ServerUrl ?? context.Client.Settings.BaseUrl.ToString()).TrimEnd('/');
        var agent = new SlurmAgentValues(SlurmJobs.JobName(spec), SlurmJobs.Comment(options.Name, spec), attempt, directory, serverUrl, venv, sdkPath);
        string script;
        try
        {
            (script, var secrets) = SlurmBatchScript.Compose(config, spec, agent, InheritedEnvironment.FromAgent(), (name, value) => SecretValues.Resolve(value, spec, name));
            WritePrivate(SlurmJobs.SecretsFile(attempt), secrets);
        }
        catch (ArgumentException ex)
        {
            throw new LaunchException(ItemPhases.Submit, $"could not write the batch script: {ex.Message}", ex);
        }

        var scriptFile = SlurmJobs.ScriptFile(attempt);
        WritePrivate(scriptFile, script);
        var jobId = await Commands.SubmitAsync(scriptFile, attempt, cancellationToken);
        if (cancellationToken.IsCancellationRequested)
        {
            await SlurmWorkload.HardStopAsync(Commands, jobId, CancellationToken.None);
            SlurmWorkload.RemoveAttemptDirectory(attempt);
            cancellationToken.ThrowIfCancellationRequested();
        }

        await context.Console.WriteAsync("stderr", $"[liftoff agent] submitted Slurm job {jobId}{(config.Partition is { } p ? " to partition " + p : "")}", cancellationToken);
        return new SlurmWorkload(Commands, jobId, attempt, context.Console, WorkloadOptions(config.Signal), time, forwardedLines: 0);
    }

    public async Task<IReadOnlyList<LeftoverWorkload>> FindLeftoversAsync(string agentName, CancellationToken cancellationToken)
    {
        if (Settings.Workdir is not { } workdir)
        {
            return [];
        }

        var leftovers = new List<LeftoverWorkload>();
        foreach (var job in await Commands.ListOwnAsync(cancellationToken))
        {
            // A job whose folder is gone was reported and cleaned up already; Slurm only still remembers it.
            if (job.Name.StartsWith(SlurmJobs.NamePrefix, StringComparison.Ordinal) && SlurmJobs.ParseComment(job.Comment) is { } labels && labels.Agent == agentName
                && SlurmJobs.AttemptDirectory(workdir, labels.ItemId, labels.Attempt) is var attempt && Directory.Exists(attempt))
            {
                var secrets = File.Exists(SlurmJobs.SecretsFile(attempt))
                    ? SlurmJobs.ParseSecretsFile(await File.ReadAllTextAsync(SlurmJobs.SecretsFile(attempt), cancellationToken))
                    : [];
                leftovers.Add(new LeftoverWorkload(labels.ItemId, labels.Attempt, labels.RunId, labels.Queue, "slurm", job.JobId, secrets));
            }
        }

        return leftovers;
    }

    public async Task<ILaunchedWorkload> AttachAsync(LeftoverWorkload leftover, RunConsole console, CancellationToken cancellationToken)
    {
        var forwarded = 0L;
        await foreach (var line in client.ReadLogsAsync(leftover.RunId, cancellationToken: cancellationToken))
        {
            forwarded += line.Stream == "stdout" ? 1 : 0;
        }

        await console.WriteAsync("stderr", $"[liftoff agent] re-attached to Slurm job {leftover.Handle}", cancellationToken);
        var attempt = SlurmJobs.AttemptDirectory(Settings.Workdir!, leftover.ItemId, leftover.Attempt);
        return new SlurmWorkload(Commands, leftover.Handle, attempt, console, WorkloadOptions(signal: null), time, forwarded);
    }

    public async Task RemoveAsync(LeftoverWorkload leftover, CancellationToken cancellationToken)
    {
        await SlurmWorkload.HardStopAsync(Commands, leftover.Handle, cancellationToken);
        SlurmWorkload.RemoveAttemptDirectory(SlurmJobs.AttemptDirectory(Settings.Workdir!, leftover.ItemId, leftover.Attempt));
    }

    /// <summary>The queue's <c>signal</c> (<c>[B:|R:]SIG[@TIME]</c>) names the signal the job expects before it is ended; SIGTERM otherwise.</summary>
    private SlurmWorkload.Options WorkloadOptions(string? signal)
    {
        var name = signal is null ? "TERM" : signal[(signal.IndexOf(':', StringComparison.Ordinal) + 1)..].Split('@')[0];
        return new SlurmWorkload.Options(TimeSpan.FromSeconds(Settings.PollInterval), name.Length == 0 ? "TERM" : name);
    }

    /// <summary>Mode 0700: the attempt's files are the submitting user's alone (the job runs as that user).</summary>
    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new LaunchException(ItemPhases.Submit, "the slurm target runs on a Linux login node");
        }

        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Written with mode 0600 from its creation: the secrets file holds the run key, the script the job's variables.</summary>
    private static void WritePrivate(string path, string text)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new LaunchException(ItemPhases.Submit, "the slurm target runs on a Linux login node");
        }

        using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        using var writer = new StreamWriter(file);
        writer.Write(text);
    }
}
