using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Core.Jobs;

namespace Liftoff.Core.Launch;

/// <summary>The run config of a launch: the job's defaults, then the item's overrides, checked against the input schema.</summary>
public static class RunConfigs
{
    /// <summary>Defaults from the schema (<c>default</c> of the object, then of each property), overrides key by key on top.</summary>
    public static JsonObject Resolve(JsonElement inputSchema, JsonElement? overrides, string field, List<FieldError> errors)
    {
        var config = new JsonObject();
        if (inputSchema.ValueKind == JsonValueKind.Object)
        {
            if (inputSchema.TryGetProperty("default", out var whole) && whole.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in whole.EnumerateObject())
                {
                    config[property.Name] = JsonNode.Parse(property.Value.GetRawText());
                }
            }

            if (inputSchema.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in properties.EnumerateObject())
                {
                    if (property.Value.ValueKind == JsonValueKind.Object && property.Value.TryGetProperty("default", out var value) && !config.ContainsKey(property.Name))
                    {
                        config[property.Name] = JsonNode.Parse(value.GetRawText());
                    }
                }
            }
        }

        if (overrides is { } given)
        {
            if (given.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new FieldError(field, "config must be a JSON object of run config keys to values"));
                return config;
            }

            foreach (var property in given.EnumerateObject())
            {
                if (!Declares(inputSchema, property.Name))
                {
                    errors.Add(new FieldError($"{field}.{property.Name}", $"the job has no config key '{property.Name}'; it takes: {string.Join(", ", DeclaredKeys(inputSchema))}"));
                    continue;
                }

                config[property.Name] = JsonNode.Parse(property.Value.GetRawText());
            }
        }

        if (errors.Count == 0)
        {
            using var document = JsonDocument.Parse(config.ToJsonString());
            errors.AddRange(JsonSchemas.Check(inputSchema, document.RootElement, field));
        }

        return config;
    }

    /// <summary>A key the schema names, or any key when it lists no properties or allows additional ones.</summary>
    private static bool Declares(JsonElement schema, string key)
    {
        if (schema.ValueKind != JsonValueKind.Object || !schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
        {
            return true;
        }

        if (properties.TryGetProperty(key, out _))
        {
            return true;
        }

        return schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind is not JsonValueKind.False;
    }

    private static IEnumerable<string> DeclaredKeys(JsonElement schema) =>
        schema.TryGetProperty("properties", out var properties) ? properties.EnumerateObject().Select(p => p.Name) : [];
}
