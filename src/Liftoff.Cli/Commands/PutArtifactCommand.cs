using System.CommandLine;
using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

internal sealed class PutArtifactCommand : BaseCommand
{
    private static readonly Argument<string> PathArgument = new("path") { Description = "The directory (or file) to upload." };
    private static readonly Option<string> NameOption = new("--name") { Description = "The artifact's name.", Required = true };
    private static readonly Option<string> TypeOption = new("--type") { Description = "The artifact's type, e.g. dataset or model.", Required = true };
    private static readonly Option<string[]> AliasOption = new("--alias") { Description = "An alias to point at the version (repeatable); 'latest' moves by itself." };

    public PutArtifactCommand() : base("put", "Upload a directory as a new artifact version; files the server already holds are not sent again.")
    {
        Arguments.Add(PathArgument);
        Options.Add(NameOption);
        Options.Add(TypeOption);
        Options.Add(AliasOption);
        Options.Add(ProjectOption.Option);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var project = parseResult.GetValue(ProjectOption.Option)!;
        var name = parseResult.GetValue(NameOption)!;
        var options = new ArtifactUploadOptions(parseResult.GetValue(TypeOption)!) { Aliases = parseResult.GetValue(AliasOption) ?? [] };
        TransferProgress? sent = null;
        var gate = new Lock();
        var version = await Transfers.WithProgressAsync(
            progress => client.UploadArtifactAsync(parseResult.GetValue(PathArgument)!, project, name, options, progress, cancellationToken),
            report =>
            {
                // Reports arrive from parallel uploads in any order: keep the furthest.
                lock (gate)
                {
                    if (report.Phase == "uploading" && (sent is null || (report.FilesDone >= sent.FilesDone && report.BytesDone >= sent.BytesDone)))
                    {
                        sent = report;
                    }
                }
            });
        await Console.Error.WriteLineAsync($"Sent {sent?.FilesDone ?? 0} files ({sent?.BytesDone ?? 0} bytes); the server held the rest.");
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(version, LiftoffJsonContext.Default.ArtifactVersionInfo);
        }
        else
        {
            await Console.Error.WriteLineAsync(version.Created
                ? $"Stored {project}/{name}:{version.Version} ({version.FileCount} files, {version.Size} bytes), aliases: {string.Join(", ", version.Aliases)}"
                : $"Unchanged: the content is {project}/{name}:{version.Version}, which already exists; aliases: {string.Join(", ", version.Aliases)}");
        }

        return ExitCodes.Success;
    }
}
