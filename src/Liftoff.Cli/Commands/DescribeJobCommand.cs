using System.CommandLine;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class DescribeJobCommand : BaseCommand
{
    private static readonly Argument<string> JobArgument = new("job") { Description = "NAME, NAME:ALIAS or NAME:vK." };

    public DescribeJobCommand() : base("describe", "Show a job: source, entrypoint, versions, aliases, input schema, runs it launched.")
    {
        Arguments.Add(JobArgument);
        Options.Add(ProjectOption.Option);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var given = parseResult.GetValue(JobArgument)!;
        if (ArtifactRefs.Parse(given) is not { } reference)
        {
            throw new LiftoffException($"'{given}' is not NAME, NAME:ALIAS or NAME:vK");
        }

        using var client = Connect();
        var job = await client.DescribeJobAsync(parseResult.GetValue(ProjectOption.Option)!, reference.Name, reference.Reference, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(job, LiftoffJsonContext.Default.JobInfo);
            return ExitCodes.Success;
        }

        var definition = job.Selected.Definition;
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string name, string? value) => grid.AddRow(new Markup($"[bold]{name}[/]"), new Text(value ?? "-"));
        Row("job", $"{job.Entity}/{job.Project}/{job.Name}:{job.Selected.Artifact.Version}");
        Row("aliases", string.Join(", ", job.Selected.Artifact.Aliases));
        Row("source type", definition.SourceType);
        Row("source", definition.Source?.GetRawText());
        Row("entrypoint", definition.Entrypoint is null ? null : string.Join(' ', definition.Entrypoint));
        Row("python", definition.Runtime?.PythonVersion);
        Row("base image", definition.Runtime?.BaseImage);
        Row("requirements", definition.Runtime?.Requirements is { } requirements ? $"{requirements.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length} lines" : null);
        Row("dockerfile", definition.Runtime?.Dockerfile is null ? null : "yes");
        Row("input schema", definition.InputTypes is { } schema ? Output.IndentedJson(schema, LiftoffJsonContext.Default.JsonElement) : null);
        Row("runs launched", job.Runs.Count == 0 ? "none (runs appear here once the job is launched from a queue)" : string.Join(", ", job.Runs));
        AnsiConsole.Write(grid);
        var versions = new Table().AddColumns("VERSION", "ALIASES", "DIGEST", "CREATED");
        foreach (var version in job.Versions)
        {
            versions.AddRow(version.Version, Markup.Escape(string.Join(", ", version.Aliases)), version.Digest[..12], Output.Time(version.CreatedAt));
        }

        Output.Table(versions);
        return ExitCodes.Success;
    }
}
