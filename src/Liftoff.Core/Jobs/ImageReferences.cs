using System.Text.RegularExpressions;

namespace Liftoff.Core.Jobs;

/// <summary>
/// The Docker reference grammar (distribution/reference: <c>[domain[:port]/]path[:tag][@digest]</c>), so a job or a
/// queue cannot name something that is no image (<c>/etc/passwd</c>, <c>../x</c>, <c>-v</c>) and have it reach a pull,
/// a build's FROM line or a cloud API.
/// </summary>
public static partial class ImageReferences
{
    /// <summary>The registry's limit on the name before the tag.</summary>
    public const int MaxNameLength = 255;

    public const string Rule = "a container image reference: [REGISTRY[:PORT]/]PATH[:TAG][@DIGEST], lowercase path, e.g. ghcr.io/org/train:1.2";

    public static bool IsValid(string? reference) =>
        reference is { Length: > 0 and <= 512 } && Reference().Match(reference) is { Success: true } match && match.Groups["name"].Length <= MaxNameLength;

    [GeneratedRegex("""
        ^(?<name>(?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$
        """, RegexOptions.CultureInvariant)]
    private static partial Regex Reference();
}
