using Liftoff.Client;
using Liftoff.Core;
using Liftoff.Targets;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Liftoff.Agent;

/// <summary>
/// The agent's YAML config file: the command line's settings, the builder, registry and environment sections, and each
/// target's own section (<see cref="TargetDefinition.AgentConfig"/>, e.g. <c>docker:</c>). Unknown keys are errors (a
/// misspelt key must not be silently ignored); every problem names its key.
/// </summary>
internal static class AgentConfigFile
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    /// <summary>Reads <paramref name="path"/> into <paramref name="options"/>; throws <see cref="LiftoffException"/> listing every problem.</summary>
    public static void Apply(string path, AgentOptions options)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LiftoffException($"cannot read the agent config {path}: {ex.Message}");
        }

        Apply(text, path, options);
    }

    public static void Apply(string yaml, string source, AgentOptions options)
    {
        Document? document;
        List<(AgentConfigSection Section, object Settings)> sections;
        try
        {
            (document, sections) = Read(yaml);
        }
        catch (YamlException ex)
        {
            var reason = (ex.InnerException?.Message ?? ex.Message).Replace("Property '", "key '", StringComparison.Ordinal);
            throw new LiftoffException($"{source} line {ex.Start.Line}: {reason}");
        }

        if (document is null && sections.Count == 0)
        {
            return;
        }

        document ??= new Document();
        var errors = Validate(document);
        errors.AddRange(sections.SelectMany(s => s.Section.Validate(s.Settings)));
        if (errors.Count > 0)
        {
            throw new LiftoffException($"{source} is not a valid agent config:\n  " + string.Join("\n  ", errors));
        }

        if (document.Name is not null)
        {
            options.Name = document.Name;
        }

        if (document.Queues is not null)
        {
            options.Queues = [.. document.Queues];
        }

        options.MaxJobs = document.MaxJobs ?? options.MaxJobs;
        options.Drain = document.Drain ?? options.Drain;
        options.WorkDirectory = document.WorkDir is { } dir ? Path.GetFullPath(dir) : options.WorkDirectory;
        options.HeartbeatInterval = document.HeartbeatSeconds is { } heartbeat ? TimeSpan.FromSeconds(heartbeat) : options.HeartbeatInterval;
        options.StopGracePeriod = document.StopGraceSeconds is { } grace ? TimeSpan.FromSeconds(grace) : options.StopGracePeriod;
        options.Python = document.Python ?? options.Python;
        options.AllowLocalGitRemotes = document.AllowLocalGitRemotes ?? options.AllowLocalGitRemotes;
        options.Builder = document.Builder ?? options.Builder;
        options.Registry = document.Registry ?? options.Registry;
        options.Environment = document.Environment ?? options.Environment;
        foreach (var (_, settings) in sections)
        {
            options.SetTarget(settings);
        }
    }

    /// <summary>Checks the settings that do not come from the file alone (the command line may have set them).</summary>
    public static IReadOnlyList<string> Validate(AgentOptions options)
    {
        var errors = new List<string>();
        if (options.Queues.Count == 0)
        {
            errors.Add("no queue to poll: give --queue NAME (or queues: in the config file)");
        }

        errors.AddRange(options.Queues.Where(q => !Names.IsValid(q)).Select(q => $"queue '{q}' is not a valid queue name: {Names.Rule}"));
        if (options.MaxJobs < 1)
        {
            errors.Add($"max_jobs is at least 1, not {options.MaxJobs}");
        }

        if (string.IsNullOrWhiteSpace(options.Name))
        {
            errors.Add("the agent name is empty");
        }

        return errors;
    }

    private static List<string> Validate(Document document)
    {
        var errors = new List<string>();
        if (document.Name is { } name && string.IsNullOrWhiteSpace(name))
        {
            errors.Add("name: is empty");
        }

        if (document.Queues is { } queues)
        {
            errors.AddRange(queues.Where(q => !Names.IsValid(q)).Select(q => $"queues: '{q}' is not a valid queue name: {Names.Rule}"));
        }

        if (document.MaxJobs is < 1)
        {
            errors.Add($"max_jobs: at least 1, not {document.MaxJobs}");
        }

        if (document.HeartbeatSeconds is { } heartbeat && !(heartbeat > 0))
        {
            errors.Add("heartbeat_seconds: a positive number of seconds");
        }

        if (document.StopGraceSeconds is { } grace && !(grace >= 0))
        {
            errors.Add("stop_grace_seconds: zero or more seconds");
        }

        if (document.Python is { } python && string.IsNullOrWhiteSpace(python))
        {
            errors.Add("python: is empty; name an interpreter such as python3 or /usr/bin/python3.11");
        }

        if (document.Builder is { } builder)
        {
            CheckType("builder.type", builder.Type, BuilderSettings.Types, errors);
        }

        if (document.Registry is { } registry)
        {
            if (string.IsNullOrWhiteSpace(registry.Uri) || registry.Uri.Any(char.IsWhiteSpace) || registry.Uri.Contains("://", StringComparison.Ordinal))
            {
                errors.Add("registry.uri: the repository images go to, without a scheme, e.g. ghcr.io/acme/jobs");
            }

            if (registry.Type is not null)
            {
                CheckType("registry.type", registry.Type, RegistrySettings.Types, errors);
            }

            if (registry.PasswordEnv is { } env && (env.Length == 0 || env.Contains('=', StringComparison.Ordinal)))
            {
                errors.Add("registry.password_env: the name of an environment variable that holds the password");
            }
        }

        if (document.Environment is { } environment)
        {
            CheckType("environment.type", environment.Type, EnvironmentSettings.Types, errors);
            if (environment.Type is "aws" or "gcp" && string.IsNullOrWhiteSpace(environment.Region))
            {
                errors.Add($"environment.region: required for {environment.Type}");
            }

            foreach (var (key, value) in new[]
            {
                ("sagemaker_endpoint", environment.SagemakerEndpoint), ("logs_endpoint", environment.LogsEndpoint),
                ("vertex_endpoint", environment.VertexEndpoint), ("logging_endpoint", environment.LoggingEndpoint),
            })
            {
                if (value is not null && !(Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"))
                {
                    errors.Add($"environment.{key}: an http(s) URL, not '{value}'");
                }
            }

            if (environment.CredentialsFile is { } credentials && !File.Exists(credentials))
            {
                errors.Add($"environment.credentials_file: no file at {credentials}");
            }

            if (environment.PollSeconds is { } poll && !(poll > 0))
            {
                errors.Add("environment.poll_seconds: a positive number of seconds");
            }
        }

        return errors;
    }

    private static void CheckType(string key, string? value, IReadOnlyList<string> allowed, List<string> errors)
    {
        if (value is null || !allowed.Contains(value))
        {
            errors.Add($"{key}: one of {string.Join(", ", allowed)}{(value is null ? "" : $", not '{value}'")}");
        }
    }

    /// <summary>The file as written; every key optional.</summary>
    private sealed class Document
    {
        public string? Name { get; set; }

        public List<string>? Queues { get; set; }

        public int? MaxJobs { get; set; }

        public bool? Drain { get; set; }

        public string? WorkDir { get; set; }

        public double? HeartbeatSeconds { get; set; }

        public double? StopGraceSeconds { get; set; }

        public string? Python { get; set; }

        public bool? AllowLocalGitRemotes { get; set; }

        public BuilderSettings? Builder { get; set; }

        public RegistrySettings? Registry { get; set; }

        public EnvironmentSettings? Environment { get; set; }
    }

    /// <summary>
    /// The file's general keys as a <see cref="Document"/>, and each target's section read into its settings type. The
    /// events keep their positions, so an unknown key in either is reported with its line.
    /// </summary>
    private static (Document? Document, List<(AgentConfigSection Section, object Settings)> Sections) Read(string yaml)
    {
        var events = new List<ParsingEvent>();
        var parser = new Parser(new StringReader(yaml));
        while (parser.MoveNext())
        {
            events.Add(parser.Current!);
        }

        var sections = new List<(AgentConfigSection, object)>();
        var root = events.FindIndex(e => e is MappingStart);
        if (root < 0 || events.Take(root).Any(e => e is not (StreamStart or DocumentStart)))
        {
            return (Deserializer.Deserialize<Document?>(new EventReplay(events)), sections);
        }

        var general = events[..(root + 1)];
        var next = root + 1;
        while (events[next] is not MappingEnd)
        {
            var valueStart = NodeEnd(events, next);
            var valueEnd = NodeEnd(events, valueStart);
            if (events[next] is Scalar key && TargetRegistry.All.Select(t => t.AgentConfig).FirstOrDefault(c => c?.Key == key.Value) is { } section)
            {
                if (Deserializer.Deserialize(new EventReplay(events[valueStart..valueEnd]), section.SettingsType) is { } settings)
                {
                    sections.Add((section, settings));
                }
            }
            else
            {
                general.AddRange(events[next..valueEnd]);
            }

            next = valueEnd;
        }

        general.AddRange(events[next..]);
        return (Deserializer.Deserialize<Document?>(new EventReplay(general)), sections);
    }

    /// <summary>The index just past the node that starts at <paramref name="start"/>.</summary>
    private static int NodeEnd(List<ParsingEvent> events, int start)
    {
        var depth = 0;
        var index = start;
        do
        {
            depth += events[index].NestingIncrease;
            index++;
        }
        while (depth > 0);

        return index;
    }

    /// <summary>Parsing events read once, given to the deserializer again.</summary>
    private sealed class EventReplay(IReadOnlyList<ParsingEvent> events) : IParser
    {
        private int _next;

        public ParsingEvent? Current { get; private set; }

        public bool MoveNext()
        {
            Current = _next < events.Count ? events[_next++] : null;
            return Current is not null;
        }
    }
}
