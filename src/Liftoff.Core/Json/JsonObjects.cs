using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Core.Json;

/// <summary>Key-by-key updates of the JSON objects a run keeps (config, summary).</summary>
public static class JsonObjects
{
    public const string Empty = "{}";

    /// <summary>Sets each top-level key of <paramref name="patch"/> on the stored object.</summary>
    public static string Merge(string storedJson, JsonElement patch)
    {
        if (patch.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("must be a JSON object", nameof(patch));
        }

        var stored = ParseObject(storedJson);
        foreach (var property in patch.EnumerateObject())
        {
            stored[property.Name] = JsonNode.Parse(property.Value.GetRawText());
        }

        return stored.ToJsonString();
    }

    /// <summary>The summary after a batch of history rows: each key takes its last logged value.</summary>
    public static string WithLastValues(string summaryJson, IEnumerable<JsonElement> rows)
    {
        var last = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            foreach (var property in row.EnumerateObject())
            {
                last[property.Name] = property.Value;
            }
        }

        if (last.Count == 0)
        {
            return summaryJson;
        }

        var summary = ParseObject(summaryJson);
        foreach (var (key, value) in last)
        {
            summary[key] = JsonNode.Parse(value.GetRawText());
        }

        return summary.ToJsonString();
    }

    private static JsonObject ParseObject(string json) =>
        JsonNode.Parse(json) as JsonObject ?? throw new InvalidOperationException("stored value is not a JSON object");
}
