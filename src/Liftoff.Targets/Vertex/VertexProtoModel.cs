using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Targets.Vertex;

/// <summary>
/// The Vertex AI messages reachable from <c>google.cloud.aiplatform.v1.CustomJob</c>, compacted at build time from the
/// protos in the npm package <c>@google-cloud/aiplatform</c> by <c>compact.mjs</c>. Checks JSON (the proto3 JSON
/// mapping: lowerCamelCase or the proto field name) against them: the enqueue checks of a vertex resource config, the
/// agent before it sends, and the test stand-in for every request it receives.
/// </summary>
public sealed class VertexProtoModel
{
    public const string CustomJob = "google.cloud.aiplatform.v1.CustomJob";
    public const string CustomJobSpec = "google.cloud.aiplatform.v1.CustomJobSpec";

    private readonly Dictionary<string, Dictionary<string, ProtoField>> _messages;
    private readonly Dictionary<string, IReadOnlyList<string>> _enums;

    private VertexProtoModel(JsonObject model)
    {
        _messages = model["messages"]!.AsObject().ToDictionary(
            m => m.Key,
            m => m.Value!["fields"]!.AsObject().ToDictionary(f => f.Key, f => ProtoField.From(f.Key, f.Value!.AsObject()), StringComparer.Ordinal),
            StringComparer.Ordinal);
        _enums = model["enums"]!.AsObject().ToDictionary(e => e.Key, e => (IReadOnlyList<string>)e.Value!.AsArray().Select(v => (string)v!).ToList(), StringComparer.Ordinal);
    }

    public static VertexProtoModel Instance { get; } = Load();

    /// <summary>The values of a proto enum, e.g. <c>google.cloud.aiplatform.v1.JobState</c>.</summary>
    public IReadOnlyList<string> Enum(string name) => _enums[name];

    /// <summary>Every way <paramref name="value"/> breaks message <paramref name="message"/>, each named by its path under <paramref name="path"/>.</summary>
    public IReadOnlyList<FieldError> Validate(JsonNode? value, string message, string path, VertexValidation options)
    {
        var errors = new List<FieldError>();
        Check(value, message, path, "", options, errors);
        return errors;
    }

    private static VertexProtoModel Load()
    {
        using var stream = typeof(VertexProtoModel).Assembly.GetManifestResourceStream("cloud-contracts/vertex.json")
            ?? throw new InvalidOperationException("cloud-contracts/vertex.json is not embedded in Liftoff.Targets; build it with npm available");
        return new VertexProtoModel(JsonNode.Parse(stream)!.AsObject());
    }

    private static string Short(string message) => message[(message.LastIndexOf('.') + 1)..];

    private void Check(JsonNode? value, string message, string path, string fieldPath, VertexValidation options, List<FieldError> errors)
    {
        if (value is not JsonObject obj)
        {
            errors.Add(new FieldError(path, $"must be a {Short(message)} object"));
            return;
        }

        var fields = _messages[message];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var oneofs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, child) in obj)
        {
            var field = fields.GetValueOrDefault(key) ?? fields.Values.FirstOrDefault(f => f.ProtoName == key);
            var childPath = $"{path}.{key}";
            if (field is null)
            {
                errors.Add(new FieldError(childPath, $"'{key}' is not a field of {Short(message)}; it has: {string.Join(", ", fields.Keys)}"));
                continue;
            }

            var childFieldPath = fieldPath.Length == 0 ? field.Name : $"{fieldPath}.{field.Name}";
            if (!seen.Add(field.Name))
            {
                errors.Add(new FieldError(childPath, $"{field.Name} is given twice (as {field.Name} and {field.ProtoName})"));
                continue;
            }

            if (options.SetByAgent.Contains(childFieldPath))
            {
                errors.Add(new FieldError(childPath, $"{key} is set by the agent for each run; leave it out"));
                continue;
            }

            if (field.OutputOnly && !options.AllowOutputOnly)
            {
                errors.Add(new FieldError(childPath, $"{key} is output only; the service sets it"));
                continue;
            }

            if (field.Oneof is { } oneof && child is not null)
            {
                if (oneofs.TryGetValue(oneof, out var other))
                {
                    errors.Add(new FieldError(childPath, $"{key} and {other} are alternatives ({oneof}); give one"));
                }

                oneofs[oneof] = key;
            }

            CheckField(child, field, childPath, childFieldPath, options, errors);
        }

        if (!options.RequireFields)
        {
            return;
        }

        foreach (var field in fields.Values)
        {
            var childFieldPath = fieldPath.Length == 0 ? field.Name : $"{fieldPath}.{field.Name}";
            var required = field.Required || field.RequiredWithin.Any(within => options.Within.Contains(within));
            if (required && !seen.Contains(field.Name) && !options.SetByAgent.Contains(childFieldPath))
            {
                errors.Add(new FieldError($"{path}.{field.Name}", $"{Short(message)} requires {field.Name}"));
            }
        }
    }

    private void CheckField(JsonNode? value, ProtoField field, string path, string fieldPath, VertexValidation options, List<FieldError> errors)
    {
        if (value is null)
        {
            return;
        }

        if (field.MapKey is not null)
        {
            if (value is not JsonObject map)
            {
                errors.Add(new FieldError(path, "must be an object (a map)"));
                return;
            }

            foreach (var (key, entry) in map)
            {
                CheckSingle(entry, field, $"{path}.{key}", fieldPath, options, errors);
            }

            return;
        }

        if (field.Repeated)
        {
            if (value is not JsonArray list)
            {
                errors.Add(new FieldError(path, "must be an array"));
                return;
            }

            for (var i = 0; i < list.Count; i++)
            {
                CheckSingle(list[i], field, $"{path}[{i}]", fieldPath, options, errors);
            }

            return;
        }

        CheckSingle(value, field, path, fieldPath, options, errors);
    }

    private void CheckSingle(JsonNode? value, ProtoField field, string path, string fieldPath, VertexValidation options, List<FieldError> errors)
    {
        if (value is JsonValue macro && options.AllowMacros && macro.GetValueKind() == JsonValueKind.String
            && ((string)macro!).Contains("${", StringComparison.Ordinal))
        {
            return;
        }

        switch (field.Kind)
        {
            case "message":
                var within = Short(field.TypeName);
                Check(value, field.TypeName, path, fieldPath, options with { Within = [.. options.Within, within] }, errors);
                return;
            case "enum":
                if (value is not JsonValue e || e.GetValueKind() != JsonValueKind.String || !_enums[field.TypeName].Contains((string)e!))
                {
                    errors.Add(new FieldError(path, $"must be one of {Short(field.TypeName)}: {string.Join(", ", _enums[field.TypeName])}"));
                }

                return;
            case "wellKnown":
                CheckWellKnown(value, field.TypeName, path, errors);
                return;
            default:
                CheckScalar(value, field.TypeName, path, errors);
                return;
        }
    }

    private static void CheckWellKnown(JsonNode? value, string type, string path, List<FieldError> errors)
    {
        var text = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? (string)v! : null;
        switch (type)
        {
            case "google.protobuf.Duration":
                if (text is null || !text.EndsWith('s') || !decimal.TryParse(text[..^1], NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                {
                    errors.Add(new FieldError(path, "must be a duration in seconds with an 's' suffix, e.g. \"3600s\""));
                }

                return;
            case "google.protobuf.Timestamp":
                if (text is null || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _))
                {
                    errors.Add(new FieldError(path, "must be an RFC 3339 timestamp, e.g. \"2025-01-01T00:00:00Z\""));
                }

                return;
            case "google.protobuf.Struct" when value is not JsonObject:
                errors.Add(new FieldError(path, "must be an object"));
                return;
            case "google.protobuf.BoolValue":
                CheckScalar(value, "bool", path, errors);
                return;
            case "google.protobuf.StringValue":
                CheckScalar(value, "string", path, errors);
                return;
            case "google.protobuf.Int32Value" or "google.protobuf.Int64Value" or "google.protobuf.DoubleValue" or "google.protobuf.FloatValue":
                CheckScalar(value, type == "google.protobuf.Int32Value" ? "int32" : type == "google.protobuf.Int64Value" ? "int64" : "double", path, errors);
                return;
            default:
                return;
        }
    }

    private static void CheckScalar(JsonNode? value, string type, string path, List<FieldError> errors)
    {
        var kind = value is JsonValue v ? v.GetValueKind() : JsonValueKind.Undefined;
        var ok = type switch
        {
            "string" or "bytes" => kind == JsonValueKind.String,
            "bool" => kind is JsonValueKind.True or JsonValueKind.False,
            "double" or "float" => kind == JsonValueKind.Number
                || (kind == JsonValueKind.String && (string)value! is "NaN" or "Infinity" or "-Infinity"),
            "int32" or "sint32" or "sfixed32" => Whole(value, kind, int.MinValue, int.MaxValue),
            "uint32" or "fixed32" => Whole(value, kind, 0, uint.MaxValue),
            "uint64" or "fixed64" => Whole(value, kind, 0, long.MaxValue),
            _ => Whole(value, kind, long.MinValue, long.MaxValue),
        };
        if (!ok)
        {
            errors.Add(new FieldError(path, type switch
            {
                "string" or "bytes" => "must be a string",
                "bool" => "must be true or false",
                "double" or "float" => "must be a number",
                _ => $"must be a whole number ({type})",
            }));
        }
    }

    // proto3 JSON takes 64-bit integers as numbers or decimal strings.
    private static bool Whole(JsonNode? value, JsonValueKind kind, long min, long max) => kind switch
    {
        JsonValueKind.Number => long.TryParse(value!.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max,
        JsonValueKind.String => long.TryParse((string)value!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) && s >= min && s <= max,
        _ => false,
    };

    private sealed record ProtoField(
        string Name, string ProtoName, string Kind, string TypeName, bool Repeated, string? MapKey,
        bool Required, IReadOnlyList<string> RequiredWithin, bool OutputOnly, string? Oneof)
    {
        public static ProtoField From(string name, JsonObject field) => new(
            name, (string)field["protoName"]!, (string)field["kind"]!, (string)field["name"]!, (bool)field["repeated"]!,
            (string?)field["map"]?["key"], (bool)field["required"]!,
            field["requiredWithin"] is JsonArray within ? within.Select(w => (string)w!).ToList() : [],
            (bool)field["outputOnly"]!, (string?)field["oneof"]);
    }
}

/// <summary>
/// How strictly to check: <see cref="RequireFields"/> (a complete request, not a queue's defaults), fields the agent fills
/// and a config must not (<see cref="SetByAgent"/>, dotted lowerCamel paths from the checked message), whether output-only
/// fields may appear (a response), <c>${macro}</c> strings, and the messages the value sits in (<see cref="Within"/>, for
/// fields the protos call required "as part of" one).
/// </summary>
public sealed record VertexValidation(bool RequireFields, IReadOnlySet<string> SetByAgent, bool AllowOutputOnly, bool AllowMacros, IReadOnlyList<string> Within)
{
    /// <summary>A request on the wire: everything required, no output-only fields, no macros.</summary>
    public static VertexValidation Request { get; } = new(true, new HashSet<string>(), false, false, []);
}
