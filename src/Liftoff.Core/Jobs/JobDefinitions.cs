using System.Text.Json;
using System.Text.RegularExpressions;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;

namespace Liftoff.Core.Jobs;

/// <summary>Validation of job definitions (DESIGN.md §1), before anything is stored.</summary>
public static partial class JobDefinitions
{
    /// <summary>The file of a job artifact version that holds its definition.</summary>
    public const string FileName = "job.json";

    public const string ArtifactType = "job";

    public const int MaxRuntimeTextBytes = 256 * 1024;

    /// <summary>The input schema of a job created without one: any config.</summary>
    public static JsonElement AnyConfig { get; } = JsonDocument.Parse("""{"type":"object"}""").RootElement.Clone();

    /// <summary>Every problem of <paramref name="definition"/>, named from <paramref name="field"/>.</summary>
    public static IReadOnlyList<FieldError> Validate(JobDefinition? definition, string field = "definition")
    {
        var errors = new List<FieldError>();
        if (definition is null)
        {
            errors.Add(new FieldError(field, "the job definition is required"));
            return errors;
        }

        switch (definition.SourceType)
        {
            case null:
                errors.Add(new FieldError($"{field}.source_type", "source_type is required: artifact, repo or image"));
                break;
            case JobSourceTypes.Artifact or JobSourceTypes.Repo or JobSourceTypes.Image:
                ValidateSource(definition.SourceType, definition.Source, $"{field}.source", errors);
                break;
            default:
                errors.Add(new FieldError($"{field}.source_type", $"unknown source_type '{definition.SourceType}'; it is artifact, repo or image"));
                break;
        }

        if (definition.Entrypoint is not { Count: > 0 } entrypoint)
        {
            errors.Add(new FieldError($"{field}.entrypoint", "entrypoint is required: the command and its arguments, e.g. [\"python\", \"train.py\"]"));
        }
        else if (entrypoint.Any(string.IsNullOrEmpty) || entrypoint.Any(a => a.Contains('\0', StringComparison.Ordinal)))
        {
            errors.Add(new FieldError($"{field}.entrypoint", "entrypoint arguments are non-empty strings without NUL characters"));
        }

        if (definition.InputTypes is { ValueKind: not JsonValueKind.Null } inputs)
        {
            errors.AddRange(JsonSchemas.ValidateInputSchema(inputs, $"{field}.input_types"));
        }

        if (definition.OutputTypes is { ValueKind: not JsonValueKind.Null } outputs)
        {
            errors.AddRange(JsonSchemas.ValidateSchema(outputs, $"{field}.output_types"));
        }

        if (definition.Runtime is { } runtime)
        {
            ValidateRuntime(runtime, $"{field}.runtime", errors);
        }

        return errors;
    }

    /// <summary>The reference <c>name:vK</c> of an artifact source, once validated.</summary>
    public static string ArtifactReference(JobDefinition definition) => definition.Source!.Value.GetProperty("artifact").GetString()!;

    private static void ValidateSource(string type, JsonElement? source, string field, List<FieldError> errors)
    {
        if (source is not { ValueKind: JsonValueKind.Object } value)
        {
            errors.Add(new FieldError(field, type switch
            {
                JobSourceTypes.Artifact => "source is required: {\"artifact\": \"name:vK\"}",
                JobSourceTypes.Repo => "source is required: {\"remote\": URL, \"commit\": SHA, \"subdir\"?: PATH}",
                _ => "source is required: {\"image\": REFERENCE, \"digest\"?: \"sha256:...\"}",
            }));
            return;
        }

        switch (type)
        {
            case JobSourceTypes.Artifact:
                if (ArtifactRefs.Parse(String(value, "artifact")) is null)
                {
                    errors.Add(new FieldError($"{field}.artifact", "artifact is the code artifact as name:vK or name:alias"));
                }

                break;
            case JobSourceTypes.Repo:
                var remote = String(value, "remote");
                if (string.IsNullOrWhiteSpace(remote))
                {
                    errors.Add(new FieldError($"{field}.remote", "remote is the git remote URL"));
                }
                else if (GitRemotes.Problem(remote) is { } problem)
                {
                    errors.Add(new FieldError($"{field}.remote", problem));
                }

                if (!GitRemotes.IsCommit(String(value, "commit")))
                {
                    errors.Add(new FieldError($"{field}.commit", "commit is the full commit id (40 or 64 lowercase hex digits) the ref was resolved to"));
                }

                if (value.TryGetProperty("subdir", out var subdir) && subdir.ValueKind != JsonValueKind.Null
                    && (subdir.ValueKind != JsonValueKind.String || ArtifactPaths.Problem(subdir.GetString()) is not null))
                {
                    errors.Add(new FieldError($"{field}.subdir", "subdir is a relative directory of the repository, without '..'"));
                }

                break;
            default:
                var image = String(value, "image");
                if (!ImageReferences.IsValid(image))
                {
                    errors.Add(new FieldError($"{field}.image", "image is " + ImageReferences.Rule));
                }

                if (value.TryGetProperty("digest", out var digest) && digest.ValueKind != JsonValueKind.Null
                    && (digest.ValueKind != JsonValueKind.String || !ImageDigest().IsMatch(digest.GetString()!)))
                {
                    errors.Add(new FieldError($"{field}.digest", "digest is sha256: and 64 lowercase hex digits"));
                }

                break;
        }
    }

    private static void ValidateRuntime(JobRuntime runtime, string field, List<FieldError> errors)
    {
        if (runtime.PythonVersion is { } python && !PythonVersion().IsMatch(python))
        {
            errors.Add(new FieldError($"{field}.python_version", "python_version is like 3.11 or 3.11.7"));
        }

        if (runtime.Requirements is { } requirements && System.Text.Encoding.UTF8.GetByteCount(requirements) > MaxRuntimeTextBytes)
        {
            errors.Add(new FieldError($"{field}.requirements", $"requirements (the file's contents) is at most {MaxRuntimeTextBytes / 1024} KiB"));
        }

        if (runtime.Dockerfile is { } dockerfile && System.Text.Encoding.UTF8.GetByteCount(dockerfile) > MaxRuntimeTextBytes)
        {
            errors.Add(new FieldError($"{field}.dockerfile", $"dockerfile (the file's contents) is at most {MaxRuntimeTextBytes / 1024} KiB"));
        }

        if (runtime.BaseImage is { } image && !ImageReferences.IsValid(image))
        {
            errors.Add(new FieldError($"{field}.base_image", "base_image is " + ImageReferences.Rule));
        }
    }

    private static string? String(JsonElement value, string name) =>
        value.TryGetProperty(name, out var property) && property.ValueKind == JsonValueKind.String ? property.GetString() : null;

    [GeneratedRegex("^sha256:[0-9a-f]{64}$")]
    private static partial Regex ImageDigest();

    [GeneratedRegex(@"^[0-9]+(\.[0-9]+){1,2}$")]
    private static partial Regex PythonVersion();
}
