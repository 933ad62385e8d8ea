using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Core.Launch;

/// <summary>The effective resource config of DESIGN.md §1: item over queue, objects merged key by key.</summary>
public static class ResourceConfigs
{
    /// <summary>Deep merge: objects merge key by key; scalars and arrays in <paramref name="overrides"/> replace.</summary>
    public static JsonObject Merge(JsonElement defaults, JsonElement? overrides)
    {
        var merged = JsonNode.Parse(defaults.ValueKind == JsonValueKind.Object ? defaults.GetRawText() : "{}")!.AsObject();
        if (overrides is { ValueKind: JsonValueKind.Object } item)
        {
            MergeInto(merged, JsonNode.Parse(item.GetRawText())!.AsObject());
        }

        return merged;
    }

    private static void MergeInto(JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source.ToList())
        {
            source.Remove(key);
            if (value is JsonObject sourceObject && target[key] is JsonObject targetObject)
            {
                MergeInto(targetObject, sourceObject);
            }
            else
            {
                target[key] = value;
            }
        }
    }
}
