using System.Text.Json;

namespace Liftoff.Contracts;

public static class JobSourceTypes
{
    public const string Artifact = "artifact";
    public const string Repo = "repo";
    public const string Image = "image";
}

/// <summary>
/// A job definition (DESIGN.md §1). <see cref="Source"/> depends on <see cref="SourceType"/>:
/// artifact <c>{artifact: "name:vK"}</c>, repo <c>{remote, commit, subdir?}</c>, image <c>{image, digest?}</c>.
/// </summary>
public sealed record JobDefinition(
    string? SourceType = null,
    JsonElement? Source = null,
    IReadOnlyList<string>? Entrypoint = null,
    JsonElement? InputTypes = null,
    JsonElement? OutputTypes = null,
    JobRuntime? Runtime = null);

/// <summary>How to build the job's environment: requirements and Dockerfile are the files' contents, not paths.</summary>
public sealed record JobRuntime(string? PythonVersion = null, string? Requirements = null, string? Dockerfile = null, string? BaseImage = null);

/// <summary>
/// Creates a job version. Give the input schema in the definition's <c>input_types</c>, or a config of defaults in
/// <see cref="ConfigDefaults"/> from which the server infers it. <see cref="RunId"/> names the run the job was made from.
/// </summary>
public sealed record CreateJobRequest(
    string? Project,
    string? Name,
    JobDefinition? Definition = null,
    JsonElement? ConfigDefaults = null,
    IReadOnlyList<string>? Aliases = null,
    string? RunId = null);

public sealed record JobVersionInfo(ArtifactVersionInfo Artifact, JobDefinition Definition);

/// <summary>A job with its versions, aliases and latest definition; <see cref="Runs"/> are the runs it launched.</summary>
public sealed record JobInfo(
    string Entity,
    string Project,
    string Name,
    IReadOnlyList<ArtifactVersionInfo> Versions,
    JobVersionInfo Selected,
    IReadOnlyList<string> Runs);

public sealed record JobList(IReadOnlyList<ArtifactInfo> Jobs);
