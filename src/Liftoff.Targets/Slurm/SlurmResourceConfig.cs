using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Liftoff.Targets.Slurm;

/// <summary>How a <c>slurm</c> queue runs image jobs: not at all (the default), through Apptainer, or through enroot via the pyxis srun plugin.</summary>
internal enum SlurmContainer
{
    None,
    Apptainer,
    Enroot,
}

/// <summary>
/// The resource config of <c>slurm</c> queues: the <c>sbatch</c> options as structured fields, the queue owner's
/// <c>modules</c>/<c>setup</c>/<c>container</c>, and the owner's restrictions on what an item may choose. Checked at
/// enqueue (<see cref="Validate"/>, <see cref="ValidateOverrides"/>), read by the agent (<see cref="Parse"/>) and rendered
/// by <see cref="SlurmBatchScript"/>. Every string that reaches the script is held to a strict character set here, and
/// quoted there as well: the values come from whoever may enqueue.
/// </summary>
internal sealed partial record SlurmResourceConfig
{
    public static readonly IReadOnlyList<string> Keys =
    [
        "partition", "time", "nodes", "ntasks", "ntasks_per_node", "cpus_per_task", "mem", "mem_per_cpu", "gpus", "gres",
        "constraint", "qos", "account", "exclusive", "reservation", "nodelist", "exclude", "signal", "env", "report_all_ranks",
        "modules", "setup", "container", "allowed_partitions", "allowed_accounts", "allowed_qos", "max_nodes", "max_time",
    ];

    /// <summary>What only the queue's owner sets: what runs before the entrypoint, and the bounds of what items choose.</summary>
    public static readonly IReadOnlyList<string> OwnerKeys =
        ["modules", "setup", "container", "allowed_partitions", "allowed_accounts", "allowed_qos", "max_nodes", "max_time"];

    public string? Partition { get; init; }

    /// <summary>The time limit as written (every form sbatch takes); <see cref="TimeLimitSeconds"/> reads it.</summary>
    public string? Time { get; init; }

    /// <summary><c>N</c> or <c>MIN-MAX</c>.</summary>
    public string? Nodes { get; init; }

    public int? Ntasks { get; init; }

    public int? NtasksPerNode { get; init; }

    public int? CpusPerTask { get; init; }

    /// <summary>A size as sbatch takes it: a number of megabytes, or a number with K, M, G or T.</summary>
    public string? Mem { get; init; }

    public string? MemPerCpu { get; init; }

    /// <summary><c>[TYPE:]COUNT</c>.</summary>
    public string? Gpus { get; init; }

    public string? Gres { get; init; }

    public string? Constraint { get; init; }

    public string? Qos { get; init; }

    public string? Account { get; init; }

    public bool Exclusive { get; init; }

    public string? Reservation { get; init; }

    /// <summary>A host list, e.g. <c>node[01-04],gpu7</c>.</summary>
    public string? Nodelist { get; init; }

    public string? Exclude { get; init; }

    /// <summary>The grace signal before the time limit: <c>[{R|B}:]SIG[@SECONDS]</c>.</summary>
    public string? Signal { get; init; }

    /// <summary>The job's own variables; values may be <c>${secret:NAME}</c> references, which the agent resolves into the secrets file.</summary>
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Every rank reports to the run (<c>LIFTOFF_ALL_RANKS=1</c>), not rank 0 alone.</summary>
    public bool ReportAllRanks { get; init; }

    /// <summary>The queue owner's <c>module load</c> names, loaded before the entrypoint.</summary>
    public IReadOnlyList<string> Modules { get; init; } = [];

    /// <summary>The queue owner's shell lines, run before the entrypoint as written.</summary>
    public IReadOnlyList<string> Setup { get; init; } = [];

    public SlurmContainer Container { get; init; } = SlurmContainer.None;

    public IReadOnlyList<string> AllowedPartitions { get; init; } = [];

    public IReadOnlyList<string> AllowedAccounts { get; init; } = [];

    public IReadOnlyList<string> AllowedQos { get; init; } = [];

    public int? MaxNodes { get; init; }

    public string? MaxTime { get; init; }

    /// <summary>The time limit in seconds; null when none is set or it is unlimited.</summary>
    public long? TimeLimitSeconds => Time is null ? null : ParseTime(Time);

    /// <summary>
    /// The effective config as the agent applies it. It passed <see cref="Validate"/> at enqueue, but macros were
    /// substituted since, so it is checked again: a bad value throws rather than reaching the script.
    /// </summary>
    public static SlurmResourceConfig Parse(JsonElement config)
    {
        var node = config.ValueKind == JsonValueKind.Object ? JsonNode.Parse(config.GetRawText())!.AsObject() : [];
        if (Validate(node, "resource_args", complete: false) is { Count: > 0 } errors)
        {
            throw new ArgumentException("the slurm resource config is not valid: " + string.Join("; ", errors.Select(e => $"{e.Field}: {e.Message}")), nameof(config));
        }

        return new SlurmResourceConfig
        {
            Partition = Text(node["partition"]),
            Time = Text(node["time"]),
            Nodes = Text(node["nodes"]),
            Ntasks = Int(node["ntasks"]),
            NtasksPerNode = Int(node["ntasks_per_node"]),
            CpusPerTask = Int(node["cpus_per_task"]),
            Mem = Text(node["mem"]),
            MemPerCpu = Text(node["mem_per_cpu"]),
            Gpus = Text(node["gpus"]),
            Gres = Text(node["gres"]),
            Constraint = Text(node["constraint"]),
            Qos = Text(node["qos"]),
            Account = Text(node["account"]),
            Exclusive = node["exclusive"]?.GetValue<bool>() ?? false,
            Reservation = Text(node["reservation"]),
            Nodelist = HostList(node["nodelist"]),
            Exclude = HostList(node["exclude"]),
            Signal = Text(node["signal"]),
            Env = node["env"] is JsonObject env
                ? env.ToDictionary(e => e.Key, e => e.Value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : e.Value?.ToJsonString() ?? "", StringComparer.Ordinal)
                : new Dictionary<string, string>(StringComparer.Ordinal),
            ReportAllRanks = node["report_all_ranks"]?.GetValue<bool>() ?? false,
            Modules = Strings(node["modules"]),
            Setup = Strings(node["setup"]),
            Container = Text(node["container"]) switch
            {
                "apptainer" => SlurmContainer.Apptainer,
                "enroot" => SlurmContainer.Enroot,
                _ => SlurmContainer.None,
            },
            AllowedPartitions = Strings(node["allowed_partitions"]),
            AllowedAccounts = Strings(node["allowed_accounts"]),
            AllowedQos = Strings(node["allowed_qos"]),
            MaxNodes = Int(node["max_nodes"]),
            MaxTime = Text(node["max_time"]),
        };
    }

    /// <summary>
    /// Every problem of <paramref name="config"/>, each named by its path under <paramref name="field"/>: unknown keys,
    /// malformed values, and values outside the restrictions the same config gives (a queue's own defaults must keep to
    /// its own bounds; a launch's effective config to the queue's). With <paramref name="complete"/>, a bound the queue
    /// gives must also be chosen within, not left to the cluster's defaults.
    /// </summary>
    public static IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete)
    {
        var errors = new List<FieldError>();
        foreach (var (key, value) in config)
        {
            CheckValue(key, value, $"{field}.{key}", errors);
        }

        if (errors.Count == 0)
        {
            CheckRestrictions(config, field, complete, errors);
        }

        return errors;
    }

    /// <summary>What a launch item's own resource args may not set: what runs before the entrypoint and the queue's bounds are its owner's.</summary>
    public static IReadOnlyList<FieldError> ValidateOverrides(JsonElement? overrides, string field)
    {
        if (overrides is not { ValueKind: JsonValueKind.Object } item)
        {
            return [];
        }

        return [.. OwnerKeys.Where(key => item.TryGetProperty(key, out _))
            .Select(key => new FieldError($"{field}.{key}", $"{key} is the queue owner's to set, in the queue's config; a launch may not set it"))];
    }

    /// <summary>
    /// A time limit in seconds as sbatch reads it: <c>M</c>, <c>M:S</c>, <c>H:M:S</c>, <c>D-H</c>, <c>D-H:M</c>,
    /// <c>D-H:M:S</c>; null for none (<c>UNLIMITED</c>, <c>INFINITE</c>, <c>0</c>); -1 when it is not a time at all.
    /// </summary>
    public static long? ParseTime(string text)
    {
        if (text is "UNLIMITED" or "INFINITE" or "unlimited" or "infinite" or "-1")
        {
            return null;
        }

        var match = TimePattern().Match(text);
        if (!match.Success)
        {
            return -1;
        }

        long Part(string name) => match.Groups[name].Success ? long.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
        long seconds;
        if (match.Groups["d"].Success)
        {
            seconds = Part("d") * 86400 + Part("dh") * 3600 + Part("dm") * 60 + Part("ds");
        }
        else if (match.Groups["h"].Success)
        {
            seconds = Part("h") * 3600 + Part("hm") * 60 + Part("hs");
        }
        else
        {
            seconds = Part("m") * 60 + Part("ms");
        }

        return seconds == 0 ? null : seconds;
    }

    private static void CheckValue(string key, JsonNode? value, string path, List<FieldError> errors)
    {
        switch (key)
        {
            case "partition":
            case "qos":
            case "account":
            case "reservation":
                Check(value is JsonValue && Text(value) is { } name && SlurmName().IsMatch(name), path,
                    $"{key} is a Slurm name: letters, digits, '_', '.' and '-'", errors);
                break;
            case "time":
            case "max_time":
                Check(IsTime(value), path,
                    $"{key} is a time limit as sbatch takes it: \"MINUTES\", \"MINUTES:SECONDS\", \"HOURS:MINUTES:SECONDS\", \"DAYS-HOURS\", \"DAYS-HOURS:MINUTES\", \"DAYS-HOURS:MINUTES:SECONDS\", or \"UNLIMITED\"",
                    errors);
                break;
            case "nodes":
                Check(value is JsonValue && NodeRange(value) is not null, path, "nodes is a number of nodes (1 or more) or a range \"MIN-MAX\"", errors);
                break;
            case "ntasks":
            case "ntasks_per_node":
            case "cpus_per_task":
            case "max_nodes":
                Check(Int(value) is > 0, path, $"{key} is a whole number, 1 or more", errors);
                break;
            case "mem":
            case "mem_per_cpu":
                Check(value is JsonValue && (Int(value) is > 0 || (Text(value) is { } size && MemSize().IsMatch(size))), path,
                    $"{key} is a size: a number of megabytes, or a number with K, M, G or T, e.g. \"4G\"", errors);
                break;
            case "gpus":
                Check(value is JsonValue && (Int(value) is > 0 || (Text(value) is { } gpus && GpuCount().IsMatch(gpus))), path,
                    "gpus is a number of GPUs (1 or more) or \"TYPE:COUNT\", e.g. \"a100:2\"", errors);
                break;
            case "gres":
                Check(value is JsonValue && Text(value) is { } gres && GresList().IsMatch(gres), path,
                    "gres is a list of NAME[:TYPE][:COUNT] separated by commas, e.g. \"gpu:a100:2\"", errors);
                break;
            case "constraint":
                Check(value is JsonValue && Text(value) is { } constraint && ConstraintPattern().IsMatch(constraint), path,
                    "constraint is a feature expression: feature names with &, |, *COUNT, [ ] and ( ), e.g. \"a100&ib\"", errors);
                break;
            case "nodelist":
            case "exclude":
                Check(HostList(value) is not null, path,
                    $"{key} is a host list (a string such as \"node[01-04],gpu7\", or a list of such strings)", errors);
                break;
            case "signal":
                Check(value is JsonValue && Text(value) is { } signal && IsSignal(signal), path,
                    "signal is [{R|B}:]SIGNAL[@SECONDS], e.g. \"B:USR1@120\": a signal name or number from 1 to 64, seconds from 0 to 65535", errors);
                break;
            case "exclusive":
            case "report_all_ranks":
                Check(value is JsonValue flag && flag.GetValueKind() is JsonValueKind.True or JsonValueKind.False, path, $"{key} is true or false", errors);
                break;
            case "env":
                CheckEnv(value, path, errors);
                break;
            case "modules":
                CheckStrings(value, path, "modules is a list of module names, e.g. \"cuda/12.1\"", m => ModuleName().IsMatch(m), errors);
                break;
            case "setup":
                CheckStrings(value, path, "setup is a list of shell lines, each one line", s => s.Length > 0 && !s.Any(c => c is '\n' or '\r' or '\0'), errors);
                break;
            case "allowed_partitions":
            case "allowed_accounts":
            case "allowed_qos":
                CheckStrings(value, path, $"{key} is a list of Slurm names", s => SlurmName().IsMatch(s), errors);
                break;
            case "container":
                Check(value is JsonValue && Text(value) is "apptainer" or "enroot" or "none", path, "container is apptainer, enroot or none", errors);
                break;
            default:
                errors.Add(new FieldError(path, $"slurm does not take '{key}'; it takes: {string.Join(", ", Keys)}"));
                break;
        }
    }

    private static void CheckRestrictions(JsonObject config, string field, bool complete, List<FieldError> errors)
    {
        void Allowed(string key, string listKey)
        {
            if (config[listKey] is not JsonArray allowed)
            {
                return;
            }

            var names = Strings(allowed);
            if (Text(config[key]) is { } chosen)
            {
                if (!names.Contains(chosen))
                {
                    errors.Add(new FieldError($"{field}.{key}", $"{key} '{chosen}' is not one this queue allows: {string.Join(", ", names)}"));
                }
            }
            else if (complete)
            {
                errors.Add(new FieldError($"{field}.{key}", $"this queue allows only some values of {key}; choose one of: {string.Join(", ", names)}"));
            }
        }

        Allowed("partition", "allowed_partitions");
        Allowed("account", "allowed_accounts");
        Allowed("qos", "allowed_qos");

        if (Int(config["max_nodes"]) is { } maxNodes && config["nodes"] is { } nodes && NodeRange(nodes) is { } range && range.Max > maxNodes)
        {
            errors.Add(new FieldError($"{field}.nodes", $"nodes may be at most {maxNodes} on this queue"));
        }

        if (Text(config["max_time"]) is { } maxTimeText && ParseTime(maxTimeText) is { } maxTime)
        {
            if (Text(config["time"]) is { } timeText)
            {
                if (ParseTime(timeText) is not { } time || time > maxTime)
                {
                    errors.Add(new FieldError($"{field}.time", $"time may be at most {maxTimeText} on this queue"));
                }
            }
            else if (complete)
            {
                errors.Add(new FieldError($"{field}.time", $"this queue limits time to {maxTimeText}; set a time limit within it"));
            }
        }
    }

    private static void CheckEnv(JsonNode? value, string path, List<FieldError> errors)
    {
        EnvConfig.Check(value, path, errors);
        if (value is JsonObject env)
        {
            foreach (var name in env.Select(e => e.Key).Where(n => n.Length > 0 && !ShellName().IsMatch(n)))
            {
                errors.Add(new FieldError($"{path}.{name}", "the batch script exports it, so the name is letters, digits and '_', not starting with a digit"));
            }
        }
    }

    private static void Check(bool valid, string path, string rule, List<FieldError> errors)
    {
        if (!valid)
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

    private static bool IsTime(JsonNode? value) => value switch
    {
        JsonValue v when Int(v) is >= 0 => true,
        JsonValue v when Text(v) is { } text => ParseTime(text) is not -1,
        _ => false,
    };

    private static bool IsSignal(string text)
    {
        var match = SignalPattern().Match(text);
        if (!match.Success)
        {
            return false;
        }

        var name = match.Groups["sig"].Value;
        var known = int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number is >= 1 and <= 64
            : SignalNames.Contains(name.StartsWith("SIG", StringComparison.Ordinal) ? name[3..] : name);
        return known && (!match.Groups["at"].Success || int.Parse(match.Groups["at"].Value, CultureInfo.InvariantCulture) <= 65535);
    }

    private static readonly HashSet<string> SignalNames =
        ["HUP", "INT", "QUIT", "ABRT", "KILL", "ALRM", "TERM", "USR1", "USR2", "URG", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "PWR"];

    /// <summary>A node count or <c>MIN-MAX</c> range; null when it is neither.</summary>
    private static (int Min, int Max)? NodeRange(JsonNode? value)
    {
        if (Int(value) is { } count)
        {
            return count > 0 ? (count, count) : null;
        }

        if (Text(value) is not { } text || NodesPattern().Match(text) is not { Success: true } match
            || !int.TryParse(match.Groups["min"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var min))
        {
            return null;
        }

        var max = min;
        if (match.Groups["max"].Success && !int.TryParse(match.Groups["max"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out max))
        {
            return null;
        }

        return min >= 1 && max >= min ? (min, max) : null;
    }

    /// <summary>A host list as one string: a string as given, or a list joined by commas.</summary>
    private static string? HostList(JsonNode? value) => value switch
    {
        JsonValue v when Text(v) is { } text && HostListPattern().IsMatch(text) => text,
        JsonArray { Count: > 0 } array when array.All(e => e is JsonValue && Text(e) is { } t && HostListPattern().IsMatch(t)) => string.Join(',', array.Select(e => Text(e))),
        _ => null,
    };

    /// <summary>A string, or a whole number as its text (a number of minutes, megabytes, GPUs or nodes).</summary>
    private static string? Text(JsonNode? value) => value switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n) => n.ToString(CultureInfo.InvariantCulture),
        _ => null,
    };

    private static int? Int(JsonNode? value) =>
        value is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var n) ? n : null;

    private static IReadOnlyList<string> Strings(JsonNode? value) =>
        value is JsonArray array ? [.. array.Select(e => Text(e) ?? "")] : [];

    [GeneratedRegex(@"^(?:(?<m>\d{1,9})(?::(?<ms>\d{1,9}))?|(?<h>\d{1,9}):(?<hm>\d{1,9}):(?<hs>\d{1,9})|(?<d>\d{1,6})-(?<dh>\d{1,9})(?::(?<dm>\d{1,9})(?::(?<ds>\d{1,9}))?)?)\z")]
    private static partial Regex TimePattern();

    [GeneratedRegex(@"^(?:(?:R|B|RB|BR):)?(?<sig>(?:SIG)?[A-Z][A-Z0-9]*|\d{1,2})(?:@(?<at>\d{1,5}))?\z")]
    private static partial Regex SignalPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}\z")]
    private static partial Regex SlurmName();

    [GeneratedRegex(@"^(?<min>\d{1,6})(?:-(?<max>\d{1,6}))?\z")]
    private static partial Regex NodesPattern();

    [GeneratedRegex(@"^[1-9]\d{0,8}[KMGTkmgt]?\z")]
    private static partial Regex MemSize();

    [GeneratedRegex(@"^(?:[A-Za-z0-9_.\-]{1,64}:)?[1-9]\d{0,5}\z")]
    private static partial Regex GpuCount();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]{1,64}(?::[A-Za-z0-9_.\-]{1,64}){0,2}(?:,[A-Za-z0-9_.\-]{1,64}(?::[A-Za-z0-9_.\-]{1,64}){0,2})*\z")]
    private static partial Regex GresList();

    [GeneratedRegex(@"^[A-Za-z0-9_.&|*\[\]()\-]{1,512}\z")]
    private static partial Regex ConstraintPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.\[\],\-]{1,1024}\z")]
    private static partial Regex HostListPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.+/@:\-]{1,256}\z")]
    private static partial Regex ModuleName();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*\z")]
    private static partial Regex ShellName();
}
