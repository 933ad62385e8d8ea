using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListArtifactsCommand : BaseCommand
{
    private static readonly Option<string?> ProjectFilterOption = new("--project", "-p") { Description = "Only artifacts of this project." };
    private static readonly Option<string?> TypeOption = new("--type") { Description = "Only artifacts of this type." };

    public ListArtifactsCommand() : base("ls", "List your artifacts: name, type, versions, latest version.")
    {
        Options.Add(ProjectFilterOption);
        Options.Add(TypeOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var artifacts = await client.ListArtifactsAsync(parseResult.GetValue(ProjectFilterOption), parseResult.GetValue(TypeOption), cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(artifacts, LiftoffJsonContext.Default.ArtifactList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("PROJECT", "NAME", "TYPE", "VERSIONS", "LATEST", "CREATED");
        foreach (var artifact in artifacts.Artifacts)
        {
            table.AddRow(Markup.Escape(artifact.Project), Markup.Escape(artifact.Name), Markup.Escape(artifact.Type),
                artifact.VersionCount.ToString(System.Globalization.CultureInfo.InvariantCulture), artifact.Latest ?? "-", Output.Time(artifact.CreatedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
