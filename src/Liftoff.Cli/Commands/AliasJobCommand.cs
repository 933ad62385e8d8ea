using System.CommandLine;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff job alias NAME:vK ALIAS</c>: points an alias at a job version; <c>latest</c> takes back a bad version.</summary>
internal sealed class AliasJobCommand : BaseCommand
{
    private static readonly Argument<string> VersionArgument = new("version") { Description = "NAME:vK, the job version to point at." };
    private static readonly Argument<string> AliasArgument = new("alias") { Description = "The alias, e.g. prod, or latest to make the next launch run this version." };

    public AliasJobCommand() : base("alias", "Point an alias at a job version (latest: launches run it until a new version is created).")
    {
        Arguments.Add(VersionArgument);
        Arguments.Add(AliasArgument);
        Options.Add(ProjectOption.Option);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var given = parseResult.GetValue(VersionArgument)!;
        if (ArtifactRefs.Parse(given) is not { } reference || ArtifactRefs.ParseVersion(reference.Reference) is null)
        {
            throw new LiftoffException($"'{given}' is not NAME:vK (e.g. train:v2)");
        }

        using var client = Connect();
        var version = await client.SetArtifactAliasAsync(parseResult.GetValue(ProjectOption.Option)!, reference.Name, parseResult.GetValue(AliasArgument)!, reference.Reference, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(version, LiftoffJsonContext.Default.ArtifactVersionInfo);
        }
        else
        {
            Console.Error.WriteLine($"{version.Project}/{version.Name}:{version.Version} aliases: {string.Join(", ", version.Aliases)}");
        }

        return ExitCodes.Success;
    }
}
