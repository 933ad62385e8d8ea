using System.CommandLine;
using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff job create code DIR</c>: the directory becomes a code artifact, and the job points at that version.</summary>
internal sealed class CreateCodeJobCommand : BaseCommand
{
    private static readonly Argument<string> DirectoryArgument = new("dir") { Description = "The directory holding the job's code." };

    public CreateCodeJobCommand() : base("code", "Create a job from a directory of code (stored as an artifact).")
    {
        Arguments.Add(DirectoryArgument);
        JobOptions.AddTo(this);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(parseResult.GetValue(DirectoryArgument)!);
        if (!Directory.Exists(directory))
        {
            throw new LiftoffException($"{directory} is not a directory");
        }

        var draft = JobOptions.Request(parseResult, Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), JobSourceTypes.Artifact, default);
        using var client = Connect();
        var codeName = $"code-{draft.Name}";
        var code = await Transfers.WithProgressAsync(progress => client.UploadArtifactAsync(directory, draft.Project!, codeName[..Math.Min(64, codeName.Length)], new ArtifactUploadOptions("code"), progress, cancellationToken));
        var request = draft with { Definition = draft.Definition! with { Source = JobOptions.Source(("artifact", $"{code.Name}:{code.Version}")) } };
        return await JobOptions.CreateAsync(client, parseResult, request, cancellationToken);
    }
}
