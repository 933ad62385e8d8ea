using System.Globalization;

namespace Liftoff.Core.Artifacts;

/// <summary>References to artifact versions: <c>name:vK</c>, <c>name:alias</c>, or a bare <c>name</c> for latest.</summary>
public static class ArtifactRefs
{
    public const string Latest = "latest";
    public const string AliasRule = "1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit, and not of the form vN";

    /// <summary>Splits <c>name[:version-or-alias]</c>; null when the name or the part after ':' is not valid.</summary>
    public static (string Name, string Reference)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        var colon = value.LastIndexOf(':');
        var name = colon < 0 ? value : value[..colon];
        var reference = colon < 0 ? Latest : value[(colon + 1)..];
        return Names.IsValid(name) && (IsAlias(reference) || ParseVersion(reference) is not null) ? (name, reference) : null;
    }

    /// <summary>The number of a <c>vK</c> reference, else null.</summary>
    public static int? ParseVersion(string reference) =>
        reference.Length >= 2 && reference[0] == 'v' && reference[1..].All(char.IsAsciiDigit)
        && int.TryParse(reference.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    public static string Version(int number) => "v" + number.ToString(CultureInfo.InvariantCulture);

    /// <summary>Aliases are names that can never be read as a version number.</summary>
    public static bool IsAlias(string? alias) => Names.IsValid(alias) && ParseVersion(alias!) is null;
}
