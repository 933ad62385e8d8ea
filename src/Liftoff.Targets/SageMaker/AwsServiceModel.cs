using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Targets.SageMaker;

/// <summary>
/// The part of an AWS service model (JSON protocol) that Liftoff's targets call, compacted at build time from the npm
/// package <c>aws-sdk</c> by <c>compact.mjs</c>: operations, and the shapes reachable from their input and output with
/// required members, types and enums. Checks request bodies against it: the enqueue checks of a sagemaker resource
/// config, the agent before it sends, and the test stand-in for every request it receives.
/// </summary>
public sealed class AwsServiceModel
{
    private readonly Dictionary<string, JsonObject> _shapes;
    private readonly Dictionary<string, (string Input, string? Output)> _operations;
    private readonly Dictionary<string, HashSet<string>> _enums;

    private AwsServiceModel(JsonObject model)
    {
        var metadata = model["metadata"]!.AsObject();
        TargetPrefix = (string)metadata["targetPrefix"]!;
        JsonVersion = (string)metadata["jsonVersion"]!;
        EndpointPrefix = (string)metadata["endpointPrefix"]!;
        // A model without signingName signs with its endpoint prefix (as CloudWatch Logs' does: "logs").
        SigningName = (string?)metadata["signingName"] ?? EndpointPrefix;
        _shapes = model["shapes"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.AsObject(), StringComparer.Ordinal);
        _enums = _shapes.Where(s => s.Value["enum"] is JsonArray).ToDictionary(
            s => s.Key, s => s.Value["enum"]!.AsArray().Select(v => (string)v!).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        _operations = model["operations"]!.AsObject().ToDictionary(
            p => p.Key, p => ((string)p.Value!["input"]!, (string?)p.Value["output"]), StringComparer.Ordinal);
    }

    /// <summary>SageMaker (<c>sagemaker-2017-07-24</c>): the training-job operations.</summary>
    public static AwsServiceModel SageMaker { get; } = Load("sagemaker.json");

    /// <summary>CloudWatch Logs (<c>logs-2014-03-28</c>): DescribeLogStreams and GetLogEvents.</summary>
    public static AwsServiceModel CloudWatchLogs { get; } = Load("logs.json");

    /// <summary>The <c>X-Amz-Target</c> prefix, e.g. <c>SageMaker</c>.</summary>
    public string TargetPrefix { get; }

    /// <summary>The JSON protocol version, for <c>Content-Type: application/x-amz-json-{version}</c>.</summary>
    public string JsonVersion { get; }

    public string SigningName { get; }

    public string EndpointPrefix { get; }

    public IReadOnlyCollection<string> Operations => _operations.Keys;

    public string InputShape(string operation) => _operations[operation].Input;

    public string? OutputShape(string operation) => _operations[operation].Output;

    /// <summary>The members a structure shape declares.</summary>
    public IReadOnlyCollection<string> Members(string shape) => _shapes[shape]["members"]!.AsObject().Select(p => p.Key).ToList();

    /// <summary>The shape of <paramref name="member"/> in structure <paramref name="shape"/>.</summary>
    public string MemberShape(string shape, string member) => (string)_shapes[shape]["members"]![member]!;

    /// <summary>The values of an enum string shape (empty for free strings).</summary>
    public IReadOnlyList<string> Enum(string shape) =>
        _shapes[shape]["enum"] is JsonArray values ? values.Select(v => (string)v!).ToList() : [];

    /// <summary>
    /// Every way <paramref name="value"/> breaks <paramref name="shape"/>, each named by its path under <paramref name="path"/>.
    /// </summary>
    public IReadOnlyList<FieldError> Validate(JsonNode? value, string shape, string path, AwsValidation options)
    {
        var errors = new List<FieldError>();
        Check(value, shape, path, "", options, errors);
        return errors;
    }

    private static AwsServiceModel Load(string name)
    {
        using var stream = typeof(AwsServiceModel).Assembly.GetManifestResourceStream("cloud-contracts/" + name)
            ?? throw new InvalidOperationException($"cloud-contracts/{name} is not embedded in Liftoff.Targets; build it with npm available");
        return new AwsServiceModel(JsonNode.Parse(stream)!.AsObject());
    }

    private void Check(JsonNode? value, string shapeName, string path, string memberPath, AwsValidation options, List<FieldError> errors)
    {
        var shape = _shapes[shapeName];
        var type = (string)shape["type"]!;
        if (value is null)
        {
            errors.Add(new FieldError(path, $"must be {Describe(type)}, not null"));
            return;
        }

        if (options.AllowMacros && value is JsonValue macro && macro.GetValueKind() == JsonValueKind.String
            && ((string)macro!).Contains("${", StringComparison.Ordinal))
        {
            return;
        }

        switch (type)
        {
            case "structure" when value is JsonObject obj:
                var members = shape["members"]!.AsObject();
                foreach (var (key, member) in obj)
                {
                    var childMember = memberPath.Length == 0 ? key : $"{memberPath}.{key}";
                    if (!members.ContainsKey(key))
                    {
                        errors.Add(new FieldError($"{path}.{key}", $"'{key}' is not a member of {shapeName}; it has: {string.Join(", ", members.Select(m => m.Key))}"));
                    }
                    else if (options.SetByAgent.Contains(childMember))
                    {
                        errors.Add(new FieldError($"{path}.{key}", $"{key} is set by the agent for each run; leave it out"));
                    }
                    else
                    {
                        Check(member, (string)members[key]!, $"{path}.{key}", childMember, options, errors);
                    }
                }

                if (options.RequireMembers)
                {
                    foreach (var required in shape["required"]!.AsArray().Select(r => (string)r!))
                    {
                        var childMember = memberPath.Length == 0 ? required : $"{memberPath}.{required}";
                        if (!obj.ContainsKey(required) && !options.SetByAgent.Contains(childMember) && !options.Defaulted.Contains(childMember))
                        {
                            errors.Add(new FieldError($"{path}.{required}", $"{shapeName} requires {required}"));
                        }
                    }
                }

                break;
            case "list" when value is JsonArray list:
                for (var i = 0; i < list.Count; i++)
                {
                    Check(list[i], (string)shape["member"]!, $"{path}[{i}]", memberPath, options, errors);
                }

                break;
            case "map" when value is JsonObject map:
                foreach (var (key, entry) in map)
                {
                    Check(entry, (string)shape["value"]!, $"{path}.{key}", memberPath, options, errors);
                }

                break;
            case "string" when value is JsonValue s && s.GetValueKind() == JsonValueKind.String:
                if (_enums.TryGetValue(shapeName, out var allowed) && !allowed.Contains((string)s!))
                {
                    errors.Add(new FieldError(path, $"'{(string)s!}' is not a {shapeName}: {string.Join(", ", Enum(shapeName))}"));
                }

                break;
            case "integer" or "long" when value is JsonValue n && n.GetValueKind() == JsonValueKind.Number
                && long.TryParse(n.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole):
                if (type == "integer" && whole is < int.MinValue or > int.MaxValue)
                {
                    errors.Add(new FieldError(path, $"{whole} is outside a 32-bit integer"));
                }

                break;
            case "boolean" when value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
            case "double" or "float" when value is JsonValue d && d.GetValueKind() == JsonValueKind.Number:
            case "timestamp" when value is JsonValue t && (t.GetValueKind() == JsonValueKind.Number
                || (t.GetValueKind() == JsonValueKind.String && DateTimeOffset.TryParse((string)t!, CultureInfo.InvariantCulture, out _))):
            case "blob" when value is JsonValue blob && blob.GetValueKind() == JsonValueKind.String:
                break;
            default:
                errors.Add(new FieldError(path, $"must be {Describe(type)}"));
                break;
        }
    }

    private static string Describe(string type) => type switch
    {
        "structure" or "map" => "an object",
        "list" => "an array",
        "integer" or "long" => "a whole number",
        "double" or "float" => "a number",
        "boolean" => "true or false",
        "timestamp" => "a timestamp (epoch seconds or ISO 8601)",
        _ => "a string",
    };
}

/// <summary>
/// How strictly to check: <see cref="RequireMembers"/> (a complete request, not a queue's defaults), members the agent
/// fills and a config must not (<see cref="SetByAgent"/>, dotted member paths), members the agent defaults when absent
/// (<see cref="Defaulted"/>), and whether <c>${macro}</c> strings stand in for any value (checked after substitution).
/// </summary>
public sealed record AwsValidation(bool RequireMembers, IReadOnlySet<string> SetByAgent, IReadOnlySet<string> Defaulted, bool AllowMacros)
{
    /// <summary>A request on the wire: everything required, nothing set aside, no macros.</summary>
    public static AwsValidation Request { get; } = new(true, new HashSet<string>(), new HashSet<string>(), false);
}
