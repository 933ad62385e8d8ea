namespace Liftoff.Targets;

/// <summary>
/// The one place secrets are taken out of text the agent logs or reports: the values of the launch's secret-looking
/// variables (the run-scoped <c>LIFTOFF_API_KEY</c>, anything named like a key, token, secret or password).
/// </summary>
internal static class Redaction
{
    private static readonly string[] SecretMarkers = ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"];

    public static string Apply(string text, IReadOnlyDictionary<string, string> environment)
    {
        foreach (var (name, value) in environment)
        {
            if (value.Length >= 8 && IsSecret(name))
            {
                text = text.Replace(value, "[redacted]", StringComparison.Ordinal);
            }
        }

        return text;
    }

    public static bool IsSecret(string name) => SecretMarkers.Any(marker => name.Contains(marker, StringComparison.OrdinalIgnoreCase));
}
