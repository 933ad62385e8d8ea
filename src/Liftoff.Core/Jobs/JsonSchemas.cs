using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Liftoff.Core.Jobs;

/// <summary>
/// The JSON Schema dialect of job input types: the validation keywords a run config needs (type, properties, required,
/// additionalProperties, items, enum, const, numeric and length bounds, pattern, default); annotations (title,
/// description, $schema, format, examples, ...) are ignored. Composition and references are refused rather than
/// silently not checked, so a schema that passes here is one whose every constraint launch enforces.
/// </summary>
public static class JsonSchemas
{
    private static readonly string[] Types = ["object", "array", "string", "number", "integer", "boolean", "null"];

    private static readonly string[] Unsupported =
    [
        "$ref", "$dynamicRef", "$defs", "definitions", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
        "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas", "dependencies",
        "unevaluatedProperties", "unevaluatedItems", "prefixItems", "contains", "minContains", "maxContains",
    ];

    private static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Problems that make <paramref name="schema"/> malformed (or not in this dialect), named from <paramref name="field"/>.</summary>
    public static IReadOnlyList<FieldError> ValidateSchema(JsonElement schema, string field)
    {
        var errors = new List<FieldError>();
        ValidateSchema(schema, field, errors);
        return errors;
    }

    /// <summary>Problems of an input schema: a valid schema of a JSON object, since a run config is one.</summary>
    public static IReadOnlyList<FieldError> ValidateInputSchema(JsonElement schema, string field)
    {
        var errors = new List<FieldError>();
        ValidateSchema(schema, field, errors);
        if (errors.Count == 0 && !(schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "object"))
        {
            errors.Add(new FieldError($"{field}.type", "an input schema describes the run config, so its type is \"object\""));
        }

        return errors;
    }

    /// <summary>Where <paramref name="value"/> breaks <paramref name="schema"/> (a schema that passed <see cref="ValidateSchema(JsonElement, string)"/>).</summary>
    public static IReadOnlyList<FieldError> Check(JsonElement schema, JsonElement value, string path)
    {
        var errors = new List<FieldError>();
        Check(schema, value, path, errors);
        return errors;
    }

    /// <summary>The schema of a config given as defaults: each key's type inferred from its value, which becomes its default.</summary>
    public static JsonObject Infer(JsonElement defaults)
    {
        if (defaults.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("defaults must be a JSON object", nameof(defaults));
        }

        return InferValue(defaults);
    }

    private static JsonObject InferValue(JsonElement value)
    {
        var schema = new JsonObject();
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                var properties = new JsonObject();
                foreach (var property in value.EnumerateObject())
                {
                    properties[property.Name] = InferValue(property.Value);
                }

                schema["type"] = "object";
                schema["properties"] = properties;
                break;
            case JsonValueKind.Array:
                schema["type"] = "array";
                var itemTypes = value.EnumerateArray().Select(TypeOf).Distinct(StringComparer.Ordinal).ToList();
                if (itemTypes.Count == 1 && itemTypes[0] is not ("object" or "array"))
                {
                    schema["items"] = new JsonObject { ["type"] = itemTypes[0] };
                }

                break;
            case JsonValueKind.Null:
                break;
            default:
                schema["type"] = TypeOf(value);
                break;
        }

        schema["default"] = JsonNode.Parse(value.GetRawText());
        return schema;
    }

    /// <summary>A number written without fraction or exponent is an integer (Python's json writes 1.0 for a float).</summary>
    private static string TypeOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => value.GetRawText().AsSpan().IndexOfAny(".eE") < 0 ? "integer" : "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    private static void ValidateSchema(JsonElement schema, string field, List<FieldError> errors)
    {
        if (schema.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return;
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(field, "a schema is a JSON object (or true/false)"));
            return;
        }

        foreach (var property in schema.EnumerateObject())
        {
            var name = property.Name;
            var value = property.Value;
            var at = $"{field}.{name}";
            switch (name)
            {
                case "type":
                    var names = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList() : [value];
                    if (names.Count == 0 || names.Any(n => n.ValueKind != JsonValueKind.String || !Types.Contains(n.GetString())))
                    {
                        errors.Add(new FieldError(at, $"type is one of {string.Join(", ", Types)}, or a non-empty array of them"));
                    }

                    break;
                case "properties":
                    if (value.ValueKind != JsonValueKind.Object)
                    {
                        errors.Add(new FieldError(at, "properties is an object of property names to schemas"));
                        break;
                    }

                    foreach (var child in value.EnumerateObject())
                    {
                        ValidateSchema(child.Value, $"{at}.{child.Name}", errors);
                    }

                    break;
                case "items":
                case "additionalProperties":
                    ValidateSchema(value, at, errors);
                    break;
                case "required":
                    if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                    {
                        errors.Add(new FieldError(at, "required is an array of property names"));
                    }

                    break;
                case "enum":
                    if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
                    {
                        errors.Add(new FieldError(at, "enum is a non-empty array of the allowed values"));
                    }

                    break;
                case "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum":
                    if (value.ValueKind != JsonValueKind.Number)
                    {
                        errors.Add(new FieldError(at, $"{name} is a number"));
                    }

                    break;
                case "multipleOf":
                    if (value.ValueKind != JsonValueKind.Number || value.GetDouble() <= 0)
                    {
                        errors.Add(new FieldError(at, "multipleOf is a number above 0"));
                    }

                    break;
                case "minLength" or "maxLength" or "minItems" or "maxItems" or "minProperties" or "maxProperties":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var count) || count < 0)
                    {
                        errors.Add(new FieldError(at, $"{name} is a whole number, 0 or more"));
                    }

                    break;
                case "uniqueItems":
                    if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        errors.Add(new FieldError(at, "uniqueItems is true or false"));
                    }

                    break;
                case "pattern":
                    if (value.ValueKind != JsonValueKind.String || !IsRegex(value.GetString()!))
                    {
                        errors.Add(new FieldError(at, "pattern is a valid regular expression"));
                    }

                    break;
                default:
                    if (Unsupported.Contains(name))
                    {
                        errors.Add(new FieldError(at, $"'{name}' is not supported in job schemas; use type, properties, required, items, enum, const, bounds and pattern"));
                    }

                    break;
            }
        }

        if (errors.Count == 0 && schema.TryGetProperty("default", out var defaultValue))
        {
            errors.AddRange(Check(schema, defaultValue, $"{field}.default").Select(e => e with { Message = "the default does not fit its own schema: " + e.Message }));
        }
    }

    private static bool IsRegex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, PatternTimeout);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void Check(JsonElement schema, JsonElement value, string path, List<FieldError> errors)
    {
        if (schema.ValueKind == JsonValueKind.False)
        {
            errors.Add(new FieldError(path, "no value is allowed here"));
            return;
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (schema.TryGetProperty("type", out var type) && !TypeMatches(type, value))
        {
            var wanted = type.ValueKind == JsonValueKind.Array ? string.Join(" or ", type.EnumerateArray().Select(t => t.GetString())) : type.GetString();
            errors.Add(new FieldError(path, $"expected {wanted}, got {Describe(value)}"));
            return;
        }

        if (schema.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(constant, value))
        {
            errors.Add(new FieldError(path, $"must be {constant.GetRawText()}"));
        }

        if (schema.TryGetProperty("enum", out var choices) && !choices.EnumerateArray().Any(c => JsonElement.DeepEquals(c, value)))
        {
            errors.Add(new FieldError(path, $"must be one of {string.Join(", ", choices.EnumerateArray().Select(c => c.GetRawText()))}"));
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Number:
                CheckNumber(schema, value.GetDouble(), path, errors);
                break;
            case JsonValueKind.String:
                CheckString(schema, value.GetString()!, path, errors);
                break;
            case JsonValueKind.Array:
                CheckArray(schema, value, path, errors);
                break;
            case JsonValueKind.Object:
                CheckObject(schema, value, path, errors);
                break;
        }
    }

    private static void CheckNumber(JsonElement schema, double number, string path, List<FieldError> errors)
    {
        if (schema.TryGetProperty("minimum", out var min) && number < min.GetDouble())
        {
            errors.Add(new FieldError(path, $"must be at least {min.GetRawText()}"));
        }

        if (schema.TryGetProperty("maximum", out var max) && number > max.GetDouble())
        {
            errors.Add(new FieldError(path, $"must be at most {max.GetRawText()}"));
        }

        if (schema.TryGetProperty("exclusiveMinimum", out var xmin) && number <= xmin.GetDouble())
        {
            errors.Add(new FieldError(path, $"must be above {xmin.GetRawText()}"));
        }

        if (schema.TryGetProperty("exclusiveMaximum", out var xmax) && number >= xmax.GetDouble())
        {
            errors.Add(new FieldError(path, $"must be below {xmax.GetRawText()}"));
        }

        if (schema.TryGetProperty("multipleOf", out var step))
        {
            var quotient = number / step.GetDouble();
            if (Math.Abs(quotient - Math.Round(quotient)) > 1e-9)
            {
                errors.Add(new FieldError(path, $"must be a multiple of {step.GetRawText()}"));
            }
        }
    }

    private static void CheckString(JsonElement schema, string text, string path, List<FieldError> errors)
    {
        var length = text.EnumerateRunes().Count();
        if (schema.TryGetProperty("minLength", out var min) && length < min.GetInt32())
        {
            errors.Add(new FieldError(path, $"must be at least {min.GetInt32()} characters"));
        }

        if (schema.TryGetProperty("maxLength", out var max) && length > max.GetInt32())
        {
            errors.Add(new FieldError(path, $"must be at most {max.GetInt32()} characters"));
        }

        if (schema.TryGetProperty("pattern", out var pattern))
        {
            bool matched;
            try
            {
                matched = Regex.IsMatch(text, pattern.GetString()!, RegexOptions.None, PatternTimeout);
            }
            catch (RegexMatchTimeoutException)
            {
                matched = false;
            }

            if (!matched)
            {
                errors.Add(new FieldError(path, $"must match the pattern {pattern.GetString()}"));
            }
        }
    }

    private static void CheckArray(JsonElement schema, JsonElement array, string path, List<FieldError> errors)
    {
        var count = array.GetArrayLength();
        if (schema.TryGetProperty("minItems", out var min) && count < min.GetInt32())
        {
            errors.Add(new FieldError(path, $"must hold at least {min.GetInt32()} items"));
        }

        if (schema.TryGetProperty("maxItems", out var max) && count > max.GetInt32())
        {
            errors.Add(new FieldError(path, $"must hold at most {max.GetInt32()} items"));
        }

        if (schema.TryGetProperty("uniqueItems", out var unique) && unique.ValueKind == JsonValueKind.True)
        {
            var items = array.EnumerateArray().ToList();
            for (var i = 1; i < items.Count; i++)
            {
                if (items.Take(i).Any(earlier => JsonElement.DeepEquals(earlier, items[i])))
                {
                    errors.Add(new FieldError($"{path}[{i}]", "repeats an earlier item; items must be unique"));
                    break;
                }
            }
        }

        if (schema.TryGetProperty("items", out var itemSchema))
        {
            var index = 0;
            foreach (var item in array.EnumerateArray())
            {
                Check(itemSchema, item, $"{path}[{index++}]", errors);
            }
        }
    }

    private static void CheckObject(JsonElement schema, JsonElement obj, string path, List<FieldError> errors)
    {
        var count = obj.EnumerateObject().Count();
        if (schema.TryGetProperty("minProperties", out var min) && count < min.GetInt32())
        {
            errors.Add(new FieldError(path, $"must have at least {min.GetInt32()} keys"));
        }

        if (schema.TryGetProperty("maxProperties", out var max) && count > max.GetInt32())
        {
            errors.Add(new FieldError(path, $"must have at most {max.GetInt32()} keys"));
        }

        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
            {
                if (!obj.TryGetProperty(name, out _))
                {
                    errors.Add(new FieldError(Child(path, name), "is required"));
                }
            }
        }

        schema.TryGetProperty("properties", out var properties);
        var hasAdditional = schema.TryGetProperty("additionalProperties", out var additional);
        foreach (var property in obj.EnumerateObject())
        {
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
            {
                Check(propertySchema, property.Value, Child(path, property.Name), errors);
            }
            else if (hasAdditional)
            {
                if (additional.ValueKind == JsonValueKind.False)
                {
                    errors.Add(new FieldError(Child(path, property.Name), "is not a known key of this config"));
                }
                else
                {
                    Check(additional, property.Value, Child(path, property.Name), errors);
                }
            }
        }
    }

    private static string Child(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static bool TypeMatches(JsonElement type, JsonElement value) =>
        type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Any(t => IsType(t.GetString()!, value)) : IsType(type.GetString()!, value);

    private static bool IsType(string type, JsonElement value) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && Math.Floor(d) == d && double.IsFinite(d),
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => false,
    };

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => "the number " + value.GetRawText(),
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "an array",
        _ => "an object",
    };
}
