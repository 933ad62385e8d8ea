using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Liftoff.Targets.Docker;

/// <summary>
/// The resource config of <c>docker</c> queues: the <c>docker run</c> options as structured fields. Checked at enqueue
/// (<see cref="Validate"/>, <see cref="ValidateOverrides"/>) and read by the agent's docker runner (<see cref="Read"/>).
/// </summary>
public static partial class DockerSchema
{
    public static readonly IReadOnlyList<string> Keys =
        ["env", "volumes", "gpus", "cpus", "memory", "shm_size", "network", "user", "labels", "extra_hosts", "privileged", "cap_add", "keep", "base_image"];

    /// <summary>Every problem of <paramref name="config"/>, each named by its path under <paramref name="field"/>.</summary>
    public static IReadOnlyList<FieldError> Validate(JsonObject config, string field)
    {
        var errors = new List<FieldError>();
        foreach (var (key, value) in config)
        {
            var path = $"{field}.{key}";
            switch (key)
            {
                case "env":
                    EnvConfig.Check(value, path, errors);
                    break;
                case "labels":
                    CheckStringMap(value, path, "labels is an object of label names to string values", errors);
                    break;
                case "volumes":
                    CheckStrings(value, path, "volumes is a list of SOURCE:TARGET[:ro] (a named volume or an absolute host path, then an absolute container path)", IsVolume, errors);
                    break;
                case "extra_hosts":
                    CheckStrings(value, path, "extra_hosts is a list of HOST:IP", s => s.IndexOf(':', StringComparison.Ordinal) > 0, errors);
                    break;
                case "cap_add":
                    CheckStrings(value, path, "cap_add is a list of capability names such as SYS_PTRACE", s => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'), errors);
                    break;
                case "gpus":
                    if (ReadGpus(value) is null)
                    {
                        errors.Add(new FieldError(path, "gpus is \"all\" or a number of GPUs (1 or more)"));
                    }

                    break;
                case "cpus":
                    if (value is not JsonValue cpus || !cpus.TryGetValue<double>(out var count) || !(count > 0))
                    {
                        errors.Add(new FieldError(path, "cpus is a positive number, e.g. 1.5"));
                    }

                    break;
                case "memory":
                case "shm_size":
                    if (ReadBytes(value) is null)
                    {
                        errors.Add(new FieldError(path, $"{key} is a size: a number of bytes or a number with b, k, m or g, e.g. \"512m\""));
                    }

                    break;
                case "base_image":
                    if (value is not JsonValue image || image.GetValueKind() != JsonValueKind.String || !Core.Jobs.ImageReferences.IsValid(image.GetValue<string>()))
                    {
                        errors.Add(new FieldError(path, "base_image is " + Core.Jobs.ImageReferences.Rule));
                    }

                    break;
                case "network":
                case "user":
                    if (value is not JsonValue text || text.GetValueKind() != JsonValueKind.String || string.IsNullOrWhiteSpace(text.GetValue<string>()))
                    {
                        errors.Add(new FieldError(path, $"{key} is a non-empty string"));
                    }

                    break;
                case "privileged":
                case "keep":
                    if (value is not JsonValue flag || flag.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        errors.Add(new FieldError(path, $"{key} is true or false"));
                    }

                    break;
                default:
                    errors.Add(new FieldError(path, $"docker does not take '{key}'; it takes: {string.Join(", ", Keys)}"));
                    break;
            }
        }

        return errors;
    }

    /// <summary>
    /// What a launch item may not set on its own (DESIGN.md §1): privileged mode, added capabilities, host paths mounted
    /// and the host's network, unless the queue's defaults (set by its owner) grant the same.
    /// </summary>
    public static IReadOnlyList<FieldError> ValidateOverrides(JsonElement queueDefaults, JsonElement? overrides, string field)
    {
        var errors = new List<FieldError>();
        if (overrides is not { ValueKind: JsonValueKind.Object } item)
        {
            return errors;
        }

        var defaults = queueDefaults.ValueKind == JsonValueKind.Object ? queueDefaults : default;
        string? Default(string key) => defaults.ValueKind == JsonValueKind.Object && defaults.TryGetProperty(key, out var v) ? v.GetRawText() : null;
        IReadOnlyList<string> DefaultList(string key) => defaults.ValueKind == JsonValueKind.Object && defaults.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array
            ? [.. v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)]
            : [];

        if (item.TryGetProperty("privileged", out var privileged) && privileged.ValueKind == JsonValueKind.True && Default("privileged") != "true")
        {
            errors.Add(new FieldError($"{field}.privileged", "a launch may not run privileged containers unless the queue's own config does"));
        }

        if (item.TryGetProperty("network", out var network) && network.GetString() is { } name && (name == "host" || name.StartsWith("container:", StringComparison.Ordinal))
            && Default("network") != network.GetRawText())
        {
            errors.Add(new FieldError($"{field}.network", $"a launch may not use network '{name}' unless the queue's own config does"));
        }

        if (item.TryGetProperty("cap_add", out var caps) && caps.ValueKind == JsonValueKind.Array)
        {
            var granted = DefaultList("cap_add");
            foreach (var cap in caps.EnumerateArray().Select(c => c.GetString()).Where(c => c is not null && !granted.Contains(c)))
            {
                errors.Add(new FieldError($"{field}.cap_add", $"a launch may not add capability {cap} unless the queue's own config does"));
            }
        }

        if (item.TryGetProperty("volumes", out var volumes) && volumes.ValueKind == JsonValueKind.Array)
        {
            var granted = DefaultList("volumes");
            foreach (var volume in volumes.EnumerateArray().Select(v => v.GetString()).Where(v => v is not null && v.StartsWith('/') && !granted.Contains(v)))
            {
                errors.Add(new FieldError($"{field}.volumes", $"a launch may not mount the host path of '{volume}' unless the queue's own config does"));
            }
        }

        return errors;
    }

    /// <summary>The effective config as the docker runner applies it; <paramref name="config"/> passed <see cref="Validate"/> at enqueue.</summary>
    public static DockerRunConfig Read(JsonElement config)
    {
        var node = config.ValueKind == JsonValueKind.Object ? JsonNode.Parse(config.GetRawText())!.AsObject() : [];
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node["env"] is JsonObject envObject)
        {
            foreach (var (name, value) in envObject)
            {
                env[name] = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : value?.ToJsonString() ?? "";
            }
        }

        return new DockerRunConfig(
            env,
            node["labels"] is JsonObject labels ? labels.ToDictionary(l => l.Key, l => l.Value?.GetValue<string>() ?? "", StringComparer.Ordinal) : new Dictionary<string, string>(),
            Strings(node["volumes"]),
            Strings(node["extra_hosts"]),
            Strings(node["cap_add"]),
            node["gpus"] is { } gpus ? ReadGpus(gpus) : null,
            node["cpus"] is JsonValue cpus ? cpus.GetValue<double>() : null,
            node["memory"] is { } memory ? ReadBytes(memory) : null,
            node["shm_size"] is { } shm ? ReadBytes(shm) : null,
            node["network"]?.GetValue<string>(),
            node["user"]?.GetValue<string>(),
            node["privileged"]?.GetValue<bool>() ?? false,
            node["keep"]?.GetValue<bool>() ?? false,
            node["base_image"]?.GetValue<string>());
    }

    /// <summary>A size as <c>docker run --memory</c> takes it: bytes, or a number with b, k, m or g (powers of 1024).</summary>
    public static long? ReadBytes(JsonNode? value)
    {
        if (value is not JsonValue leaf)
        {
            return null;
        }

        if (leaf.TryGetValue<long>(out var bytes))
        {
            return bytes > 0 ? bytes : null;
        }

        if (leaf.GetValueKind() != JsonValueKind.String)
        {
            return null;
        }

        var text = leaf.GetValue<string>().Trim().ToLowerInvariant();
        var unit = text.Length > 0 && char.IsAsciiLetter(text[^1]) ? text[^1] : 'b';
        var number = char.IsAsciiLetter(unit) && text.Length > 0 && char.IsAsciiLetter(text[^1]) ? text[..^1] : text;
        long scale = unit switch { 'b' => 1, 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, _ => 0 };
        return scale > 0 && double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount > 0
            ? (long)(amount * scale)
            : null;
    }

    /// <summary>GPUs: -1 for all, else the count.</summary>
    private static int? ReadGpus(JsonNode? value) => value switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "all" => -1,
        JsonValue v when v.TryGetValue<int>(out var n) && n >= 1 => n,
        _ => null,
    };

    private static IReadOnlyList<string> Strings(JsonNode? value) =>
        value is JsonArray array ? [.. array.Select(e => e?.GetValue<string>() ?? "")] : [];

    /// <summary>
    /// The source is a named volume (Docker's rule: a letter or digit, then letters, digits, '_', '.', '-') or an
    /// absolute host path; anything else (<c>./data</c>, <c>~/x</c>, <c>..</c>) Docker would resolve against the agent's
    /// own working or home directory, which no queue owner granted.
    /// </summary>
    private static bool IsVolume(string spec)
    {
        var parts = spec.Split(':');
        return parts.Length is 2 or 3 && (parts[0].StartsWith('/') || NamedVolume().IsMatch(parts[0]))
            && parts[1].StartsWith('/') && (parts.Length == 2 || parts[2] is "ro" or "rw");
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NamedVolume();

    private static void CheckStringMap(JsonNode? value, string path, string rule, List<FieldError> errors)
    {
        if (value is not JsonObject map || map.Any(e => e.Value is not JsonValue v || v.GetValueKind() != JsonValueKind.String))
        {
            errors.Add(new FieldError(path, rule));
        }
    }

    private static void CheckStrings(JsonNode? value, string path, string rule, Func<string, bool> valid, List<FieldError> errors)
    {
        if (value is not JsonArray array)
        {
            errors.Add(new FieldError(path, rule));
            return;
        }

        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.String || !valid(v.GetValue<string>()))
            {
                errors.Add(new FieldError($"{path}[{i}]", rule));
            }
        }
    }
}

/// <summary>A docker queue's effective resource config. <see cref="Gpus"/>: -1 for all; sizes in bytes.</summary>
public sealed record DockerRunConfig(
    IReadOnlyDictionary<string, string> Env,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<string> Volumes,
    IReadOnlyList<string> ExtraHosts,
    IReadOnlyList<string> CapAdd,
    int? Gpus,
    double? Cpus,
    long? Memory,
    long? ShmSize,
    string? Network,
    string? User,
    bool Privileged,
    bool Keep,
    string? BaseImage);
