using System.Text;

namespace Liftoff.Core.Json;

/// <summary>
/// Liftoff's representation of the numbers JSON cannot hold: the strings <c>"NaN"</c>, <c>"Infinity"</c> and
/// <c>"-Infinity"</c>. Python's json module and the wandb clients write them as bare tokens, which no strict JSON
/// reader (System.Text.Json included) accepts; quoting them once, on the way in, keeps every stored document
/// valid JSON for every reader.
/// </summary>
public static class NonFiniteNumbers
{
    /// <summary>
    /// The text with each bare <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> outside strings turned into a JSON
    /// string. Everything else is left as it is, so text that was valid JSON comes back unchanged (the same instance).
    /// </summary>
    public static string Quote(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (!json.Contains("NaN", StringComparison.Ordinal) && !json.Contains("Infinity", StringComparison.Ordinal))
        {
            return json;
        }

        StringBuilder? quoted = null;
        var copied = 0;
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            if (c == '"')
            {
                inString = true;
                continue;
            }

            var token = Token(json, i);
            if (token is null || !IsBoundary(json, i - 1) || !IsBoundary(json, i + token.Length))
            {
                continue;
            }

            quoted ??= new StringBuilder(json.Length + 16);
            quoted.Append(json, copied, i - copied).Append('"').Append(token).Append('"');
            i += token.Length - 1;
            copied = i + 1;
        }

        return quoted is null ? json : quoted.Append(json, copied, json.Length - copied).ToString();
    }

    private static string? Token(string json, int at) =>
        json.AsSpan(at).StartsWith("NaN") ? "NaN"
        : json.AsSpan(at).StartsWith("Infinity") ? "Infinity"
        : json.AsSpan(at).StartsWith("-Infinity") ? "-Infinity"
        : null;

    /// <summary>Outside strings, a token stands alone between structural characters or whitespace.</summary>
    private static bool IsBoundary(string json, int at) =>
        at < 0 || at >= json.Length || json[at] is ',' or ':' or '[' or ']' or '{' or '}' || char.IsWhiteSpace(json[at]);
}
