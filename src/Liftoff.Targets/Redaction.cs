namespace Liftoff.Targets;

/// <summary>
/// The one place secrets are taken out of text the agent logs or reports: the values of the entity's secrets the launch
/// references (<see cref="LaunchSpec.Secrets"/>, whatever their length), and the values of the launch's secret-looking
/// variables (the run-scoped <c>LIFTOFF_API_KEY</c>, anything named like a key, token, secret or password). This guards
/// against accidents (a job printing its environment, an error quoting a request); a hostile job can always encode a
/// value it was given.
/// </summary>
internal static class Redaction
{
    public const string Mask = "[redacted]";

    private static readonly string[] SecretMarkers = ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"];

    /// <summary>Lines of a multi-line secret at least this long are masked on their own, as consoles carry one line at a time.</summary>
    private const int MinLineChars = 8;

    public static string Apply(string text, IReadOnlyDictionary<string, string> environment, IReadOnlyDictionary<string, string>? secrets = null)
    {
        if (secrets is not null)
        {
            foreach (var value in Values(secrets))
            {
                text = text.Replace(value, Mask, StringComparison.Ordinal);
            }
        }

        foreach (var (name, value) in environment)
        {
            if (value.Length >= 8 && IsSecret(name))
            {
                text = text.Replace(value, Mask, StringComparison.Ordinal);
            }
        }

        return text;
    }

    public static bool IsSecret(string name) => SecretMarkers.Any(marker => name.Contains(marker, StringComparison.OrdinalIgnoreCase));

    /// <summary>Each value, and each long enough line of a multi-line one, longest first so no part of one survives a shorter one's mask.</summary>
    private static IEnumerable<string> Values(IReadOnlyDictionary<string, string> secrets) => secrets.Values
        .SelectMany(v => v.Contains('\n', StringComparison.Ordinal)
            ? [v, .. v.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length >= MinLineChars)]
            : new[] { v })
        .Where(v => v.Length > 0)
        .Distinct(StringComparer.Ordinal)
        .OrderByDescending(v => v.Length);
}
