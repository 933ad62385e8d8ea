using System.Text;
using System.Text.Json;
using Liftoff.Contracts;
using System.Text.RegularExpressions;

namespace Liftoff.Targets.Slurm;

/// <summary>What the runner knows at submit, beyond the resource config.</summary>
/// <param name="JobName">Names the job for re-attach (the runner decides the value).</param>
/// <param name="Comment">Also for re-attach.</param>
/// <param name="WorkDir">The per-attempt folder on the shared file system (<c>--chdir</c>).</param>
/// <param name="OutputPath">The file stdout and stderr go to (<c>--output</c>); sbatch's <c>%j</c>-style patterns apply.</param>
/// <param name="SecretsFile">
/// A mode-0600 file of <c>export NAME='value'</c> lines the script sources: the run key, resolved secrets and the agent's
/// inherited variables (<see cref="InheritedEnvironment"/>) never appear in the script text or a command line.
/// </param>
/// <param name="Command">The entrypoint argv.</param>
/// <param name="Environment">The job's variables that are not secret.</param>
/// <param name="Image">Image jobs: run through the queue's container runtime.</param>
internal sealed record SlurmSubmission(
    string JobName,
    string Comment,
    string WorkDir,
    string OutputPath,
    string SecretsFile,
    IReadOnlyList<string> Command,
    IReadOnlyDictionary<string, string> Environment,
    string? Image);

/// <summary>
/// What only the agent knows when it submits: <c>--dry-run</c> shows each as a marked placeholder
/// (<see cref="Placeholders"/>), the runner passes the real values; everything else is the same text.
/// </summary>
/// <param name="AttemptDirectory">The attempt's folder under <c>slurm.workdir</c> (secrets file, output).</param>
/// <param name="CodeDirectory">Where the entrypoint runs: the fetched code, or the attempt's folder for an image job.</param>
/// <param name="ServerUrl">The Liftoff server as compute nodes reach it.</param>
/// <param name="VirtualEnv">Code jobs: the virtual environment the entrypoint runs in.</param>
/// <param name="SdkPath">Code jobs: the folder holding the Liftoff Python SDK, first on <c>PYTHONPATH</c>.</param>
internal sealed record SlurmAgentValues(
    string JobName,
    string Comment,
    string AttemptDirectory,
    string CodeDirectory,
    string ServerUrl,
    string? VirtualEnv,
    string? SdkPath)
{
    public static SlurmAgentValues Placeholders(LaunchSpec spec)
    {
        const string attempt = "<slurm.workdir>/<attempt folder>";
        var code = SlurmBatchScript.Image(spec) is null;
        var subdir = spec.JobDefinition.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.Object
            && source.TryGetProperty("subdir", out var s) && s.ValueKind == JsonValueKind.String && s.GetString() is { Length: > 0 } dir ? "/" + dir : "";
        return new SlurmAgentValues("<job name given by the agent>", "<comment given by the agent>", attempt, code ? attempt + "/code" + subdir : attempt,
            "<server URL as compute nodes see it>", code ? "<the virtual environment made for the job>" : null, code ? "<the Liftoff SDK>" : null);
    }
}

/// <summary>
/// The batch script a <c>slurm</c> launch is submitted as: an <c>#SBATCH</c> line for every option set, the
/// secrets file sourced, the queue owner's modules and setup lines, the job's variables exported, then <c>srun</c> of the
/// entrypoint, so that <c>ntasks</c> &gt; 1 runs one task per rank, each told its rank the way torch and Liftoff's SDK read it.
/// </summary>
internal static partial class SlurmBatchScript
{
    /// <summary>
    /// Variables that carry the run key: they belong in the secrets file, so a submission that puts them in the script is
    /// a runner bug, refused rather than written into a file others on the cluster may read.
    /// </summary>
    public static readonly IReadOnlyList<string> KeyVariables = ["LIFTOFF_API_KEY", "WANDB_API_KEY"];

    /// <summary>
    /// Each task's rank, set where srun starts it: <c>SLURM_PROCID</c> and friends exist only per task, so a POSIX
    /// shell reads them there and then becomes the entrypoint.
    /// </summary>
    public const string RankWrapper =
        "export LIFTOFF_RANK=\"$SLURM_PROCID\" RANK=\"$SLURM_PROCID\" WORLD_SIZE=\"$SLURM_NTASKS\" LOCAL_RANK=\"$SLURM_LOCALID\"; exec \"$@\"";

    /// <summary>Puts the venv first on PATH on the compute node, after the queue's modules and setup lines set theirs.</summary>
    public const string VenvWrapper = "PATH=\"$VIRTUAL_ENV/bin:$PATH\"; export PATH; exec \"$@\"";

    /// <summary>
    /// The launch as submitted: the batch script and its secrets file's text. The one composition both the runner and
    /// <c>--dry-run</c> use, so what a user previews is what runs (with <paramref name="agent"/>'s placeholders).
    /// <paramref name="inherited"/> is what the job takes from the agent's environment (<see cref="InheritedEnvironment"/>):
    /// <c>--export=NONE</c> keeps sbatch from passing the rest. <paramref name="resolve"/> gives a secret reference's value.
    /// </summary>
    public static (string Script, string SecretsFile) Compose(SlurmResourceConfig config, LaunchSpec spec, SlurmAgentValues agent,
        IReadOnlyDictionary<string, string> inherited, Func<string, string, string> resolve)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(agent);
        var run = new Dictionary<string, string>(spec.Environment, StringComparer.Ordinal);
        foreach (var (name, value) in RemoteEnvironment.Added(agent.ServerUrl))
        {
            run[name] = value;
        }

        var command = spec.Entrypoint;
        if (agent.VirtualEnv is { } venv)
        {
            run["VIRTUAL_ENV"] = venv;
            run["PYTHONPATH"] = agent.SdkPath + (config.Env.TryGetValue("PYTHONPATH", out var own) && own.Length > 0 ? ":" + own : "");
            command = ["/bin/sh", "-c", VenvWrapper, "liftoff-venv", .. spec.Entrypoint];
        }

        var (exported, secret) = SplitEnvironment(config, run, resolve);
        var file = new Dictionary<string, string>(inherited, StringComparer.Ordinal);
        foreach (var (name, value) in secret)
        {
            file[name] = value;
        }

        var script = Render(config, new SlurmSubmission(agent.JobName, agent.Comment, agent.CodeDirectory, SlurmJobs.OutputFile(agent.AttemptDirectory),
            SlurmJobs.SecretsFile(agent.AttemptDirectory), command, exported, Image(spec)));
        return (script, SecretsFileText(file));
    }

    /// <summary>An image job's image; null for a code or git job.</summary>
    public static string? Image(LaunchSpec spec) =>
        spec.JobDefinition.ValueKind == JsonValueKind.Object
        && spec.JobDefinition.TryGetProperty("source_type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == JobSourceTypes.Image
        && spec.JobDefinition.TryGetProperty("source", out var source) && source.ValueKind == JsonValueKind.Object
        && source.TryGetProperty("image", out var image) && image.ValueKind == JsonValueKind.String
            ? image.GetString()
            : null;

    public static string Render(SlurmResourceConfig config, SlurmSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(submission);
        if (submission.Command.Count == 0)
        {
            throw new ArgumentException("the entrypoint is empty", nameof(submission));
        }

        var script = new StringBuilder("#!/bin/bash\n");
        void Option(string name, string? value)
        {
            if (value is not null)
            {
                script.Append("#SBATCH --").Append(name).Append('=').Append(DirectiveQuote(value)).Append('\n');
            }
        }

        Option("job-name", submission.JobName);
        Option("comment", submission.Comment);
        Option("chdir", submission.WorkDir);
        Option("output", submission.OutputPath);
        Option("partition", config.Partition);
        Option("time", config.Time);
        Option("nodes", config.Nodes ?? (config.MaxNodes is { } max ? $"1-{max}" : null));
        Option("ntasks", Number(config.Ntasks));
        Option("ntasks-per-node", Number(config.NtasksPerNode));
        Option("cpus-per-task", Number(config.CpusPerTask));
        Option("mem", config.Mem);
        Option("mem-per-cpu", config.MemPerCpu);
        Option("gpus", config.Gpus);
        Option("gres", config.Gres);
        Option("constraint", config.Constraint);
        Option("qos", config.Qos);
        Option("account", config.Account);
        Option("reservation", config.Reservation);
        Option("nodelist", config.Nodelist);
        Option("exclude", config.Exclude);
        Option("signal", config.Signal);
        // The agent's environment stays on the login node: the job gets the variables this script and its file set.
        Option("export", "NONE");
        if (config.Exclusive)
        {
            script.Append("#SBATCH --exclusive\n");
        }

        script.Append("set -e\n");
        // First, so the modules and setup lines find PATH and HOME.
        script.Append("# the run key, the secret values and PATH, HOME and the locale of the submitting user: in a file only that user reads\n");
        script.Append(". ").Append(Quote(submission.SecretsFile)).Append('\n');
        foreach (var module in config.Modules)
        {
            script.Append("module load ").Append(Quote(module)).Append('\n');
        }

        foreach (var line in config.Setup)
        {
            script.Append(line).Append('\n');
        }

        foreach (var (name, value) in submission.Environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!ShellName().IsMatch(name) || KeyVariables.Contains(name))
            {
                throw new ArgumentException($"'{name}' cannot be exported by the batch script: not a shell variable name, or it carries the run key (the secrets file's)", nameof(submission));
            }

            script.Append("export ").Append(name).Append('=').Append(Quote(value)).Append('\n');
        }

        if (config.ReportAllRanks)
        {
            script.Append("export LIFTOFF_ALL_RANKS=1\n");
        }

        // sbatch's --export=NONE would pass on to srun through SLURM_EXPORT_ENV: the tasks get what the script set.
        script.Append("exec srun --export=ALL");
        var task = new List<string>();
        switch (submission.Image)
        {
            case null:
                break;
            case { } image when config.Container == SlurmContainer.Apptainer:
                task.AddRange(["apptainer", "exec", "--bind", submission.WorkDir, "--pwd", submission.WorkDir]);
                if (config.Gpus is not null || config.Gres?.StartsWith("gpu", StringComparison.Ordinal) == true)
                {
                    task.Add("--nv");
                }

                task.Add("docker://" + image);
                break;
            case { } image when config.Container == SlurmContainer.Enroot:
                script.Append(' ').Append(Quote("--container-image=" + PyxisImage(image)))
                    .Append(' ').Append(Quote("--container-mounts=" + submission.WorkDir))
                    .Append(' ').Append(Quote("--container-workdir=" + submission.WorkDir));
                break;
            default:
                throw new ArgumentException("an image job needs the queue's container runtime (container: apptainer or enroot)", nameof(submission));
        }

        script.Append(" /bin/sh -c ").Append(Quote(RankWrapper)).Append(" liftoff-rank");
        foreach (var argument in task.Concat(submission.Command))
        {
            script.Append(' ').Append(Quote(argument));
        }

        script.Append('\n');
        return script.ToString();
    }

    /// <summary>
    /// The job's variables, split between the script and the secrets file: the queue's <c>env</c> with the run's own
    /// variables (<paramref name="run"/>, e.g. <see cref="RemoteEnvironment.For"/>) over it. The run key and every
    /// <c>env</c> value holding a <c>${secret:NAME}</c> reference go to the file, resolved by <paramref name="resolve"/>
    /// (name, value); the rest is exported by the script.
    /// </summary>
    public static (Dictionary<string, string> Exported, Dictionary<string, string> Secret) SplitEnvironment(
        SlurmResourceConfig config, IReadOnlyDictionary<string, string> run, Func<string, string, string> resolve)
    {
        var exported = new Dictionary<string, string>(StringComparer.Ordinal);
        var secret = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in config.Env.Where(e => !run.ContainsKey(e.Key)))
        {
            if (Liftoff.Core.Launch.SecretReferences.Contains(value))
            {
                secret[name] = resolve(name, value);
            }
            else
            {
                exported[name] = value;
            }
        }

        foreach (var (name, value) in run)
        {
            (KeyVariables.Contains(name) ? secret : exported)[name] = value;
        }

        return (exported, secret);
    }

    /// <summary>The secrets file's text: one <c>export NAME='value'</c> line per variable, for the script to source.</summary>
    public static string SecretsFileText(IReadOnlyDictionary<string, string> secret)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in secret.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append("export ").Append(ShellName().IsMatch(name) ? name : throw new ArgumentException($"'{name}' is not a shell variable name", nameof(secret)))
                .Append('=').Append(Quote(value)).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>A word for the shell: single-quoted, each single quote closed, escaped and reopened.</summary>
    public static string Quote(string value)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("a NUL cannot stand in a batch script", nameof(value));
        }

        return "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>
    /// An <c>#SBATCH</c> value: sbatch reads these lines itself, honouring double quotes and backslash escapes but not
    /// single quotes, and ending the value at a newline or an unquoted <c>#</c>.
    /// </summary>
    public static string DirectiveQuote(string value)
    {
        if (value.Any(c => c is '\n' or '\r' or '\0'))
        {
            throw new ArgumentException("an #SBATCH value is one line", nameof(value));
        }

        return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>
    /// pyxis names images as enroot does, <c>[REGISTRY#]IMAGE[:TAG]</c>: a Docker reference's registry (its first part
    /// when that has a dot, a port or is localhost) is set off by <c>#</c>, not <c>/</c>.
    /// </summary>
    public static string PyxisImage(string image)
    {
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return image;
        }

        var first = image[..slash];
        return first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"
            ? first + "#" + image[(slash + 1)..]
            : image;
    }

    private static string? Number(int? value) => value?.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*\z")]
    private static partial Regex ShellName();
}
