namespace Liftoff.Core;

/// <summary>The rule every entity and project name follows, so names are safe in paths and URLs.</summary>
public static class Names
{
    public static bool IsValid(string? name) =>
        name is { Length: >= 1 and <= 64 }
        && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public const string Rule = "1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit";
}
