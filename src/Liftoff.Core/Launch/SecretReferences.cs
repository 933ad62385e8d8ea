using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Liftoff.Core.Launch;

/// <summary>A <c>${secret:NAME}</c> reference found in a config: the secret's name and the path of the value holding it.</summary>
public sealed record SecretReference(string Name, string Path);

/// <summary>
/// <c>${secret:NAME}</c> references to an entity's secrets in environment values of resource configs. The configs keep
/// the references (stored items, queues and dry-runs show them); only the agent substitutes the values, when it starts
/// the workload.
/// </summary>
public static partial class SecretReferences
{
    public const string NameRule = "1 to 128 letters, digits or '_', not starting with a digit";

    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    public static string Reference(string name) => "${secret:" + name + "}";

    /// <summary>Every reference in <paramref name="config"/>, by the path of its string under <paramref name="field"/>.</summary>
    public static IReadOnlyList<SecretReference> Find(JsonNode config, string field)
    {
        var found = new List<SecretReference>();
        Macros.Visit(config, field, (text, path) =>
        {
            found.AddRange(Names(text).Select(name => new SecretReference(name, path)));
            return text;
        });
        return found;
    }

    /// <summary>The secrets <paramref name="text"/> references, in order, once each.</summary>
    public static IReadOnlyList<string> Names(string text) =>
        [.. ReferencePattern().Matches(text).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal)];

    public static bool Contains(string text) => ReferencePattern().IsMatch(text);

    /// <summary>
    /// <paramref name="text"/> with each reference replaced by its value; the names missing from
    /// <paramref name="values"/> go to <paramref name="missing"/> and their references stay.
    /// </summary>
    public static string Substitute(string text, IReadOnlyDictionary<string, string> values, ICollection<string> missing) =>
        ReferencePattern().Replace(text, m =>
        {
            if (values.TryGetValue(m.Groups[1].Value, out var value))
            {
                return value;
            }

            missing.Add(m.Groups[1].Value);
            return m.Value;
        });

    // Any name, so that a malformed one is refused by name at enqueue rather than passed on as text.
    [GeneratedRegex(@"\$\{secret:([^}]*)\}")]
    private static partial Regex ReferencePattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    private static partial Regex NamePattern();
}
