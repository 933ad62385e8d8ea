using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using k8s.Models;

namespace Liftoff.Targets.Kubernetes;

/// <summary>
/// The Kubernetes OpenAPI definitions as the <c>KubernetesClient</c> package's models carry them (generated from the
/// Kubernetes release named by <see cref="Version"/>), and a checker that walks a model's properties: each one's
/// <c>[JsonPropertyName]</c> is a field, its type says whether the field is an object, a list, a map or a scalar.
/// Unknown fields are refused, as <c>kubectl --validate=strict</c> does. The generator makes a required integer,
/// boolean or time non-nullable, so those are required here; it keeps no mark on required strings, objects or lists,
/// nor the values of enums, except a top-level object's <c>kind</c> (its <see cref="KubernetesEntityAttribute"/>).
/// </summary>
internal sealed class OpenApiDefinitions
{
    public static readonly Type Job = typeof(V1Job);
    public static readonly Type Secret = typeof(V1Secret);

    private readonly ConcurrentDictionary<Type, Model> _models = new();

    private OpenApiDefinitions()
    {
    }

    public static OpenApiDefinitions Kubernetes { get; } = new();

    /// <summary>The Kubernetes release whose OpenAPI document the models were generated from, e.g. <c>v1.37.0</c>.</summary>
    public static string Version => GeneratedModelVersion.SwaggerVersion;

    /// <summary>Every way <paramref name="value"/> breaks <paramref name="model"/>'s definition, each named by its path under <paramref name="path"/>.</summary>
    public IReadOnlyList<FieldError> Check(Type model, JsonNode? value, string path)
    {
        var errors = new List<FieldError>();
        Check(model, value, path, errors);
        return errors;
    }

    private void Check(Type type, JsonNode? value, string path, List<FieldError> errors)
    {
        // Kubernetes treats an explicit null as an absent optional field; a ${macro} or {{template variable}} is checked once substituted.
        if (value is null || IsMacro(value))
        {
            return;
        }

        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string) || type == typeof(DateTime) || type == typeof(byte[]))
        {
            Require(IsKind(value, JsonValueKind.String), "must be a string", path, errors);
        }
        else if (type == typeof(int) || type == typeof(long))
        {
            CheckInteger(type == typeof(int), value, path, errors);
        }
        else if (type == typeof(double) || type == typeof(float))
        {
            Require(IsKind(value, JsonValueKind.Number), "must be a number", path, errors);
        }
        else if (type == typeof(bool))
        {
            Require(IsKind(value, JsonValueKind.True) || IsKind(value, JsonValueKind.False), "must be true or false", path, errors);
        }
        else if (type == typeof(IntOrString))
        {
            Require(IsKind(value, JsonValueKind.String) || IsWholeNumber(value), "must be one of: string or integer", path, errors);
        }
        else if (type == typeof(ResourceQuantity))
        {
            Require(IsKind(value, JsonValueKind.String) || IsKind(value, JsonValueKind.Number), "must be one of: string or number", path, errors);
        }
        else if (type == typeof(object))
        {
            // A free-form object in the definitions (managedFields' fieldsV1, for example): any members.
            Require(value is JsonObject, "must be an object", path, errors);
        }
        else if (Generic(type, typeof(IDictionary<,>)) is { } map)
        {
            CheckMap(map[1], value, path, errors);
        }
        else if (Generic(type, typeof(IList<>)) is { } list)
        {
            CheckList(list[0], value, path, errors);
        }
        else
        {
            CheckObject(_models.GetOrAdd(type, Model.Of), value, path, errors);
        }
    }

    private void CheckList(Type items, JsonNode value, string path, List<FieldError> errors)
    {
        if (value is not JsonArray array)
        {
            errors.Add(new FieldError(path, "must be a list"));
            return;
        }

        for (var i = 0; i < array.Count; i++)
        {
            Check(items, array[i], $"{path}[{i}]", errors);
        }
    }

    private void CheckMap(Type values, JsonNode value, string path, List<FieldError> errors)
    {
        if (value is not JsonObject obj)
        {
            errors.Add(new FieldError(path, "must be an object"));
            return;
        }

        foreach (var (key, child) in obj)
        {
            Check(values, child, $"{path}.{key}", errors);
        }
    }

    private void CheckObject(Model model, JsonNode value, string path, List<FieldError> errors)
    {
        if (value is not JsonObject obj)
        {
            errors.Add(new FieldError(path, "must be an object"));
            return;
        }

        foreach (var (key, child) in obj)
        {
            var childPath = $"{path}.{key}";
            if (!model.Fields.TryGetValue(key, out var field))
            {
                errors.Add(new FieldError(childPath, $"unknown field '{key}'; {model.Describe()}"));
            }
            else if (key == "kind" && model.Kind is { } kind && child is JsonValue given && given.GetValueKind() == JsonValueKind.String && given.GetValue<string>() != kind)
            {
                errors.Add(new FieldError(childPath, $"'{given.GetValue<string>()}' is not one of: {kind}"));
            }
            else
            {
                Check(field.Type, child, childPath, errors);
            }
        }

        foreach (var (name, _) in model.Fields.Where(f => f.Value.Required && obj[f.Key] is null))
        {
            errors.Add(new FieldError($"{path}.{name}", "is required"));
        }
    }

    private static void CheckInteger(bool int32, JsonNode value, string path, List<FieldError> errors)
    {
        if (!IsWholeNumber(value))
        {
            errors.Add(new FieldError(path, "must be a whole number"));
            return;
        }

        var number = decimal.Parse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
        if (int32 && number is < int.MinValue or > int.MaxValue)
        {
            errors.Add(new FieldError(path, "must fit in 32 bits"));
        }
        else if (number is < long.MinValue or > long.MaxValue)
        {
            errors.Add(new FieldError(path, "must fit in 64 bits"));
        }
    }

    private static bool IsWholeNumber(JsonNode value) =>
        IsKind(value, JsonValueKind.Number)
        && decimal.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
        && number == decimal.Truncate(number);

    private static void Require(bool holds, string message, string path, List<FieldError> errors)
    {
        if (!holds)
        {
            errors.Add(new FieldError(path, message));
        }
    }

    private static Type[]? Generic(Type type, Type definition) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == definition ? type.GetGenericArguments() : null;

    private static bool IsKind(JsonNode value, JsonValueKind kind) => value is JsonValue leaf && leaf.GetValueKind() == kind;

    private static bool IsMacro(JsonNode value) =>
        IsKind(value, JsonValueKind.String) && value.GetValue<string>() is var text && (text.Contains("${", StringComparison.Ordinal) || text.Contains("{{", StringComparison.Ordinal));

    private sealed record Field(Type Type, bool Required);

    /// <summary>One definition: its fields by wire name, and the kind a top-level object must name.</summary>
    private sealed record Model(IReadOnlyDictionary<string, Field> Fields, string? Kind)
    {
        public static Model Of(Type type)
        {
            var fields = new Dictionary<string, Field>(StringComparer.Ordinal);
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.GetCustomAttribute<JsonPropertyNameAttribute>() is { } name)
                {
                    fields[name.Name] = new Field(property.PropertyType, property.PropertyType.IsValueType && Nullable.GetUnderlyingType(property.PropertyType) is null);
                }
            }

            return new Model(fields, type.GetCustomAttribute<KubernetesEntityAttribute>()?.Kind);
        }

        public string Describe() =>
            Fields.Count <= 12
                ? $"the fields here are: {string.Join(", ", Fields.Keys.Order(StringComparer.Ordinal))}"
                : "see the Kubernetes API reference for the fields here";
    }
}
