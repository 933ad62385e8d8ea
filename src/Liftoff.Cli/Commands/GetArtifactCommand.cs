using System.CommandLine;
using Liftoff.Client;
using Liftoff.Core.Artifacts;

namespace Liftoff.Cli.Commands;

internal sealed class GetArtifactCommand : BaseCommand
{
    private static readonly Argument<string> ArtifactArgument = new("artifact") { Description = "NAME, NAME:ALIAS or NAME:vK." };
    private static readonly Option<string?> OutputOption = new("--output", "-o") { Description = "The directory to write the files to (default ./artifacts/NAME-vK)." };

    public GetArtifactCommand() : base("get", "Download an artifact version, checking every file's digest.")
    {
        Arguments.Add(ArtifactArgument);
        Options.Add(OutputOption);
        Options.Add(ProjectOption.Option);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var given = parseResult.GetValue(ArtifactArgument)!;
        if (ArtifactRefs.Parse(given) is not { } reference)
        {
            throw new LiftoffException($"'{given}' is not NAME, NAME:ALIAS or NAME:vK");
        }

        using var client = Connect();
        var version = await client.GetArtifactVersionAsync(parseResult.GetValue(ProjectOption.Option)!, reference.Name, reference.Reference, cancellationToken);
        var directory = parseResult.GetValue(OutputOption) ?? Path.Combine("artifacts", $"{version.Name}-{version.Version}");
        var written = await Transfers.WithProgressAsync(progress => client.DownloadArtifactAsync(version, directory, progress, cancellationToken));
        await Console.Error.WriteLineAsync($"Downloaded {version.Project}/{version.Name}:{version.Version} ({version.FileCount} files, {version.Size} bytes) to");
        Console.WriteLine(written);
        return ExitCodes.Success;
    }
}
