using System.CommandLine;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Jobs;

namespace Liftoff.Cli;

/// <summary>The options every <c>liftoff job create</c> kind takes, and the request they make.</summary>
internal static class JobOptions
{
    public static readonly Option<string> Entrypoint = new("--entrypoint") { Description = "The command that runs the job, e.g. \"python train.py --epochs 3\".", Required = true };
    public static readonly Option<string?> Name = new("--name") { Description = "The job's name (default: derived from the source)." };
    public static readonly Option<FileInfo?> Requirements = new("--requirements") { Description = "A requirements.txt whose contents the job records." };
    public static readonly Option<FileInfo?> Dockerfile = new("--dockerfile") { Description = "A Dockerfile whose contents the job records." };
    public static readonly Option<string?> PythonVersion = new("--python-version") { Description = "The Python version the job needs, e.g. 3.11." };
    public static readonly Option<string?> BaseImage = new("--base-image") { Description = "The image to build the job's environment on." };
    public static readonly Option<FileInfo?> ConfigDefaults = new("--config-defaults") { Description = "A JSON object of config defaults; the input schema is inferred from it." };
    public static readonly Option<FileInfo?> Schema = new("--schema") { Description = "A JSON Schema file of the run config the job accepts." };
    public static readonly Option<string[]> Alias = new("--alias") { Description = "An alias to point at the job version (repeatable)." };

    public static void AddTo(Command command)
    {
        foreach (var option in new Option[] { Entrypoint, Name, Requirements, Dockerfile, PythonVersion, BaseImage, ConfigDefaults, Schema, Alias, ProjectOption.Option, Commands.BaseCommand.JsonOption })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The request for a job of <paramref name="sourceType"/>; throws <see cref="LiftoffException"/> on unusable options.</summary>
    public static CreateJobRequest Request(ParseResult parseResult, string defaultName, string sourceType, JsonElement source)
    {
        IReadOnlyList<string> entrypoint;
        try
        {
            entrypoint = CommandLines.Split(parseResult.GetValue(Entrypoint)!);
        }
        catch (FormatException ex)
        {
            throw new LiftoffException($"--entrypoint: {ex.Message}");
        }

        var configDefaults = parseResult.GetValue(ConfigDefaults);
        var schema = parseResult.GetValue(Schema);
        if (configDefaults is not null && schema is not null)
        {
            throw new LiftoffException("give --config-defaults or --schema, not both");
        }

        var name = parseResult.GetValue(Name) ?? NameFrom(defaultName);
        var runtime = new JobRuntime(
            PythonVersion: parseResult.GetValue(PythonVersion),
            Requirements: ReadText(parseResult.GetValue(Requirements), "--requirements"),
            Dockerfile: ReadText(parseResult.GetValue(Dockerfile), "--dockerfile"),
            BaseImage: parseResult.GetValue(BaseImage));
        return new CreateJobRequest(
            Project: parseResult.GetValue(ProjectOption.Option),
            Name: name,
            Definition: new JobDefinition(sourceType, source, entrypoint, InputTypes: schema is null ? null : ReadJson(schema, "--schema"),
                Runtime: runtime == new JobRuntime() ? null : runtime),
            ConfigDefaults: configDefaults is null ? null : ReadJson(configDefaults, "--config-defaults"),
            Aliases: parseResult.GetValue(Alias) ?? []);
    }

    public static async Task<int> CreateAsync(LiftoffClient client, ParseResult parseResult, CreateJobRequest request, CancellationToken cancellationToken)
    {
        var job = await client.CreateJobAsync(request, cancellationToken);
        if (parseResult.GetValue(Commands.BaseCommand.JsonOption))
        {
            Output.Json(job, LiftoffJsonContext.Default.JobVersionInfo);
        }
        else
        {
            var version = job.Artifact;
            await Console.Error.WriteLineAsync(version.Created
                ? $"Created job {version.Project}/{version.Name}:{version.Version} ({job.Definition.SourceType}), aliases: {string.Join(", ", version.Aliases)}"
                : $"Unchanged: the same definition is {version.Project}/{version.Name}:{version.Version}; aliases: {string.Join(", ", version.Aliases)}");
        }

        return ExitCodes.Success;
    }

    public static JsonElement Source(params (string Name, string? Value)[] fields)
    {
        var source = new System.Text.Json.Nodes.JsonObject();
        foreach (var (name, value) in fields.Where(f => f.Value is not null))
        {
            source[name] = value;
        }

        return JsonSerializer.SerializeToElement(source, LiftoffJsonContext.Default.JsonObject);
    }

    /// <summary>A job name from a directory, repository or image name: invalid characters become '-'.</summary>
    public static string NameFrom(string source)
    {
        var name = new string([.. source.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-')]).TrimStart('-', '_', '.');
        name = name.Length > 64 ? name[..64] : name;
        return Names.IsValid(name) ? name : throw new LiftoffException($"cannot make a job name from '{source}'; give --name ({Names.Rule})");
    }

    private static string? ReadText(FileInfo? file, string option)
    {
        try
        {
            return file is null ? null : File.ReadAllText(file.FullName);
        }
        catch (IOException ex)
        {
            throw new LiftoffException($"{option} {file!.FullName}: {ex.Message}");
        }
    }

    private static JsonElement ReadJson(FileInfo file, string option)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file.FullName));
            return document.RootElement.Clone();
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            throw new LiftoffException($"{option} {file.FullName}: {ex.Message}");
        }
    }
}
