using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets.LocalProcess;

namespace Liftoff.Targets.Slurm;

/// <summary>
/// The <c>slurm</c> target's runner, on a node where <c>sbatch</c> works. Each attempt gets a folder under the shared
/// <c>slurm.workdir</c>: code and git jobs are fetched there, with their virtual environment and the SDK in the same
/// caches local-process uses (kept under the shared folder, so compute nodes see them); the run key and resolved secrets
/// go into a mode-0600 file the batch script sources; the script (<see cref="SlurmBatchScript"/>) is submitted with
/// <c>sbatch</c>. Jobs carry their agent, item, attempt, run and queue in their comment, so a restarted agent finds
/// its own again.
/// </summary>
internal sealed class SlurmRunner(AgentOptions options, LiftoffClient client, TimeProvider time) : ILaunchRunner, IReattachableRunner, IDisposable
{
    /// <summary>Puts the venv first on PATH on the compute node, after the queue's modules and setup lines set theirs.</summary>
    private const string VenvWrapper = "PATH=\"$VIRTUAL_ENV/bin:$PATH\"; export PATH; exec \"$@\"";

    private readonly Lock _gate = new();
    private Shared? _shared;

    private SlurmSettings Settings => options.Target<SlurmSettings>();

    private SlurmCommands Commands => new(Settings);

    public async Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var spec = context.Spec;
        var shared = SharedCaches();
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

        var attempt = SlurmJobs.AttemptDirectory(shared.Workdir, spec.ItemId, spec.Attempt);
        // An earlier start of this very attempt that died before it submitted: start over.
        SlurmWorkload.RemoveAttemptDirectory(attempt);
        CreatePrivateDirectory(attempt);

        var run = RemoteEnvironment.For(context);
        if (Settings.ServerUrl is { } url)
        {
            run["LIFTOFF_BASE_URL"] = url.TrimEnd('/');
            run["WANDB_BASE_URL"] = run["LIFTOFF_BASE_URL"];
        }

        string? image = null;
        string directory;
        IReadOnlyList<string> command;
        if (context.Job.SourceType == JobSourceTypes.Image)
        {
            if (config.Container == SlurmContainer.None)
            {
                throw new LaunchException(ItemPhases.Submit, "an image job cannot run on this slurm queue: its resource config names no container runtime (container: apptainer or enroot)");
            }

            image = context.Job.Source is { ValueKind: JsonValueKind.Object } source && source.TryGetProperty("image", out var i) ? i.GetString() : null;
            directory = attempt;
            command = spec.Entrypoint;
        }
        else
        {
            directory = await shared.Code.FetchAsync(context with { WorkDirectory = attempt }, cancellationToken);
            var requirements = context.Job.Runtime?.Requirements;
            var requirementsFile = Path.Combine(directory, "requirements.txt");
            if (string.IsNullOrWhiteSpace(requirements) && File.Exists(requirementsFile))
            {
                requirements = await File.ReadAllTextAsync(requirementsFile, cancellationToken);
            }

            var venv = await shared.Environments.GetAsync(options.Python, requirements, context.Console, cancellationToken);
            var sdkPath = await shared.Sdk.GetPathAsync(context.Client, cancellationToken);
            run["VIRTUAL_ENV"] = venv.Directory;
            run["PYTHONPATH"] = sdkPath + (config.Env.TryGetValue("PYTHONPATH", out var own) && own.Length > 0 ? ":" + own : "");
            command = ["/bin/sh", "-c", VenvWrapper, "liftoff-venv", .. spec.Entrypoint];
        }

        string script;
        try
        {
            var (exported, secret) = SlurmBatchScript.SplitEnvironment(config, run, (name, value) => SecretValues.Resolve(value, spec, name));
            WritePrivate(SlurmJobs.SecretsFile(attempt), SlurmBatchScript.SecretsFileText(secret));
            script = SlurmBatchScript.Render(config, new SlurmSubmission(SlurmJobs.JobName(spec), SlurmJobs.Comment(options.Name, spec), directory,
                SlurmJobs.OutputFile(attempt), SlurmJobs.SecretsFile(attempt), command, exported, image));
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

    public void Dispose() => _shared?.Sdk.Dispose();

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

    /// <summary>local-process's code, venv and SDK caches, rooted in the shared folder rather than the agent's own work directory.</summary>
    private Shared SharedCaches()
    {
        lock (_gate)
        {
            if (_shared is null)
            {
                var workdir = Settings.Workdir ?? throw new LaunchException(ItemPhases.Submit,
                    "this agent's config has no slurm.workdir (a folder on a file system the compute nodes see), so it cannot run slurm jobs");
                var shared = new AgentOptions { Name = options.Name, WorkDirectory = workdir, Python = options.Python, AllowLocalGitRemotes = options.AllowLocalGitRemotes };
                var locks = new CacheLock();
                _shared = new Shared(workdir, new CodeFetcher(shared, locks, time), new PythonEnvironments(shared, locks, time), new PythonSdk(shared, locks, time));
            }

            return _shared;
        }
    }

    private sealed record Shared(string Workdir, CodeFetcher Code, PythonEnvironments Environments, PythonSdk Sdk);
}
