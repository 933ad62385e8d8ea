using System.CommandLine;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff job create image REF</c>: a job whose code is inside a container image.</summary>
internal sealed class CreateImageJobCommand : BaseCommand
{
    private static readonly Argument<string> ImageArgument = new("image") { Description = "The image reference, e.g. ghcr.io/org/train:1.2 (or with @sha256:...)." };

    public CreateImageJobCommand() : base("image", "Create a job from a container image.")
    {
        Arguments.Add(ImageArgument);
        JobOptions.AddTo(this);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var image = parseResult.GetValue(ImageArgument)!;
        var at = image.IndexOf("@sha256:", StringComparison.Ordinal);
        var reference = at < 0 ? image : image[..at];
        var lastSegment = reference.Split('/')[^1];
        var colon = lastSegment.IndexOf(':', StringComparison.Ordinal);
        var request = JobOptions.Request(parseResult, colon < 0 ? lastSegment : lastSegment[..colon], JobSourceTypes.Image,
            JobOptions.Source(("image", reference), ("digest", at < 0 ? null : image[(at + 1)..])));
        using var client = Connect();
        return await JobOptions.CreateAsync(client, parseResult, request, cancellationToken);
    }
}
