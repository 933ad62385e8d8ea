using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Jobs;
using Liftoff.Targets;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff launch</c>: enqueue a job version with overrides, or show what would run (--dry-run).</summary>
internal sealed class LaunchCommand : BaseCommand
{
    /// <summary>
    /// The client resends what is safe within this window; the enqueue carries an idempotency key, so a lost answer or
    /// a busy server never doubles the item.
    /// </summary>
    private static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(10);

    private static readonly Option<string?> JobOption = new("--job", "-j") { Description = "The job: NAME, NAME:ALIAS or NAME:vK (default alias latest)." };
    private static readonly Option<string> QueueOption = new("--queue", "-q") { Description = "The queue to put the item on.", Required = true };
    private static readonly Option<string[]> ConfigOption = new("--config", "-c") { Description = "A run config override key=value (value parsed as JSON when it is JSON)." };
    private static readonly Option<string?> ConfigFileOption = new("--config-file") { Description = "Run config overrides from a YAML or JSON file (--config pairs win)." };
    private static readonly Option<string?> ResourceArgsOption = new("--resource-args") { Description = "Resource config overrides from a YAML or JSON file, deep-merged over the queue's." };
    private static readonly Option<string[]> SetVarOption = new("--set-var") { Description = "A template variable value name=value." };
    private static readonly Option<string?> PriorityOption = new("--priority") { Description = "critical, high, medium (default) or low." };
    private static readonly Option<string?> EntrypointOption = new("--entrypoint") { Description = "Run this command instead of the job's entrypoint." };
    private static readonly Option<string?> UriOption = new("--uri") { Description = "Launch code from a directory or a git URL: creates the job (with --entrypoint), then enqueues it." };
    private static readonly Option<string?> ImageOption = new("--image") { Description = "Launch a container image: creates an image job (with --entrypoint), then enqueues it." };
    private static readonly Option<bool> DryRunOption = new("--dry-run") { Description = "Print what would run as YAML: run config, effective resource config, every environment variable; enqueue nothing (--json: the launch spec)." };

    public LaunchCommand() : base("launch", "Put a job (or code from --uri, an image from --image) on a queue for an agent to run.")
    {
        Options.Add(JobOption);
        Options.Add(UriOption);
        Options.Add(ImageOption);
        Options.Add(QueueOption);
        Options.Add(Cli.ProjectOption.Option);
        Options.Add(ConfigOption);
        Options.Add(ConfigFileOption);
        Options.Add(ResourceArgsOption);
        Options.Add(SetVarOption);
        Options.Add(PriorityOption);
        Options.Add(EntrypointOption);
        Options.Add(DryRunOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var queue = parseResult.GetValue(QueueOption)!;
        var sources = new[] { parseResult.GetValue(JobOption), parseResult.GetValue(UriOption), parseResult.GetValue(ImageOption) }.Count(s => s is not null);
        if (sources != 1)
        {
            throw new LiftoffException("give exactly one of --job (an existing job), --uri (a directory or git URL) or --image (a container image)");
        }

        using var client = new LiftoffClient(Settings() with { RetryFor = RetryFor });
        var job = parseResult.GetValue(JobOption) ?? await CreateJobAsync(client, parseResult, cancellationToken);
        var request = BuildRequest(parseResult, job) with { Entrypoint = parseResult.GetValue(JobOption) is null ? null : Entrypoint(parseResult) };
        if (parseResult.GetValue(DryRunOption))
        {
            var spec = await client.DryRunAsync(queue, request, cancellationToken);
            if (!parseResult.GetValue(JsonOption) && TargetRegistry.Find(spec.Resource)?.RenderDryRun(spec) is { } rendered)
            {
                Console.Write(rendered);
            }
            else
            {
                Output.Json(spec, LiftoffJsonContext.Default.LaunchSpec);
            }

            return ExitCodes.Success;
        }

        var item = await client.EnqueueAsync(queue, request, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(item, LiftoffJsonContext.Default.ItemInfo);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Enqueued {item.Job} on queue {item.Queue} as item {item.Id} ({item.Priority} priority).");
            if (item.Place is { } place)
            {
                await Console.Error.WriteLineAsync(place.Message + ".");
            }

            await Console.Error.WriteLineAsync($"Follow it with: liftoff queue describe {item.Queue}");
        }

        return ExitCodes.Success;
    }

    private static EnqueueRequest BuildRequest(ParseResult parseResult, string job)
    {
        var config = parseResult.GetValue(ConfigFileOption) is { } file ? ConfigFiles.ReadObject(file, "--config-file") : [];
        foreach (var (key, value) in ConfigFiles.ReadPairs(parseResult.GetValue(ConfigOption) ?? [], "--config"))
        {
            config[key] = value?.DeepClone();
        }

        var templateValues = ConfigFiles.ReadPairs(parseResult.GetValue(SetVarOption) ?? [], "--set-var")
            .ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value, LiftoffJsonContext.Default.JsonNode));
        return new EnqueueRequest(
            job,
            parseResult.GetValue(Cli.ProjectOption.Option),
            config.Count == 0 ? null : Element(config),
            parseResult.GetValue(ResourceArgsOption) is { } args ? Element(ConfigFiles.ReadObject(args, "--resource-args")) : null,
            templateValues,
            parseResult.GetValue(PriorityOption),
            IdempotencyKey: "cli-" + Guid.NewGuid().ToString("N"));
    }

    /// <summary>A job version made from --uri or --image; its reference (NAME:vK) is what gets enqueued.</summary>
    private static async Task<string> CreateJobAsync(LiftoffClient client, ParseResult parseResult, CancellationToken cancellationToken)
    {
        var entrypoint = Entrypoint(parseResult) ?? throw new LiftoffException("--entrypoint is required with --uri or --image: the command that runs the job");
        var project = parseResult.GetValue(Cli.ProjectOption.Option);
        string name;
        JobDefinition definition;
        if (parseResult.GetValue(ImageOption) is { } image)
        {
            name = JobOptions.NameFrom(image.Split('/')[^1].Split(':', '@')[0]);
            definition = new JobDefinition(JobSourceTypes.Image, JobOptions.Source(("image", image)), entrypoint);
        }
        else if (parseResult.GetValue(UriOption) is { } uri && Directory.Exists(uri))
        {
            var directory = Path.GetFullPath(uri);
            name = JobOptions.NameFrom(Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)));
            var codeName = $"code-{name}";
            var code = await Transfers.WithProgressAsync(progress => client.UploadArtifactAsync(directory, project!, codeName[..Math.Min(64, codeName.Length)], new ArtifactUploadOptions("code"), progress, cancellationToken));
            definition = new JobDefinition(JobSourceTypes.Artifact, JobOptions.Source(("artifact", $"{code.Name}:{code.Version}")), entrypoint);
        }
        else
        {
            var remote = parseResult.GetValue(UriOption)!;
            var commit = await GitRefs.ResolveAsync(remote, null, Environment.GetEnvironmentVariable("LIFTOFF_GIT_TOKEN") is { Length: > 0 } token ? token : null, cancellationToken);
            var stripped = GitRemotes.StripCredentials(remote);
            var repo = stripped.TrimEnd('/').Split('/', ':')[^1];
            name = JobOptions.NameFrom(repo.EndsWith(".git", StringComparison.Ordinal) ? repo[..^4] : repo);
            definition = new JobDefinition(JobSourceTypes.Repo, JobOptions.Source(("remote", stripped), ("commit", commit)), entrypoint);
        }

        var job = await client.CreateJobAsync(new CreateJobRequest(project, name, definition), cancellationToken);
        await Console.Error.WriteLineAsync(Made(job.Artifact, definition.SourceType!));
        return $"{job.Artifact.Name}:{job.Artifact.Version}";
    }

    /// <summary>
    /// What launching from --uri or --image did to the job: a second launch of an edited directory makes a new version
    /// and moves <c>latest</c> to it, which a user following the job by alias must hear about.
    /// </summary>
    private static string Made(ArtifactVersionInfo version, string sourceType)
    {
        var job = $"{version.Project}/{version.Name}";
        var latest = version.Aliases.Contains("latest") ? "; latest now points to it" : "";
        return (version.Created, version.Version) switch
        {
            (false, _) => $"Unchanged: job {job} already has this definition as {version.Version}; launching that version",
            (true, "v0") => $"Created job {job}:v0 ({sourceType})",
            _ => $"Made a new version of job {job}: {version.Version} ({sourceType}){latest}",
        };
    }

    private static IReadOnlyList<string>? Entrypoint(ParseResult parseResult)
    {
        try
        {
            return parseResult.GetValue(EntrypointOption) is { } command ? CommandLines.Split(command) : null;
        }
        catch (FormatException ex)
        {
            throw new LiftoffException($"--entrypoint: {ex.Message}");
        }
    }

    private static JsonElement Element(JsonObject value) => JsonSerializer.SerializeToElement(value, LiftoffJsonContext.Default.JsonObject);
}
