using System.Security.Cryptography;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Artifacts;
using Liftoff.Core.Jobs;
using Liftoff.Core.Json;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Blobs;
using Liftoff.Server.Launch;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>
/// Jobs: artifacts of type <c>job</c> whose one file, <c>job.json</c>, is a validated job definition. Identical
/// definitions are the same version, as for any artifact.
/// </summary>
internal static class JobsApi
{
    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/v1/jobs").RequireAuthorization().WithTags("Jobs").Needs(EntityRole.Viewer);
        jobs.MapPost("/", CreateJob).Needs(EntityRole.Member).Audited("job.create");
        jobs.MapGet("/", ListJobs);
        jobs.MapGet("/{project}/{name}", DescribeJob);
        return app;
    }

    public static async Task<Results<Created<JobVersionInfo>, Ok<JobVersionInfo>, ProblemHttpResult, ValidationProblem>> CreateJob(
        CreateJobRequest request, [AsParameters] JobServices services, CancellationToken cancellationToken)
    {
        var project = request.Project ?? RunsApi.DefaultProject;
        var errors = new Validation();
        ArtifactsApi.CheckName(errors, project, request.Name ?? "");
        ArtifactsApi.CheckAliases(errors, request.Aliases);
        errors.AddRange(JobDefinitions.Validate(request.Definition));

        if (request.ConfigDefaults is { ValueKind: not JsonValueKind.Null } defaults)
        {
            errors.Check(defaults.ValueKind == JsonValueKind.Object, "config_defaults", "config_defaults is a JSON object of config keys to default values");
            errors.Check(request.Definition?.InputTypes is null or { ValueKind: JsonValueKind.Null }, "config_defaults", "give definition.input_types or config_defaults, not both");
        }

        if (errors.Any)
        {
            return errors.Result;
        }

        AuditLog.Note(services.Http, $"{project}/{request.Name}", new System.Text.Json.Nodes.JsonObject { ["source_type"] = request.Definition!.SourceType });
        var entityId = services.Acting.EntityId;
        var definition = request.Definition! with
        {
            InputTypes = request.ConfigDefaults is { ValueKind: JsonValueKind.Object } config
                ? JsonSerializer.SerializeToElement(JsonSchemas.Infer(config), LiftoffJsonContext.Default.JsonObject)
                : request.Definition!.InputTypes is { ValueKind: not JsonValueKind.Null } given ? given : JobDefinitions.AnyConfig,
        };
        switch (definition.SourceType)
        {
            case JobSourceTypes.Artifact:
                var (codeName, reference) = ArtifactRefs.Parse(JobDefinitions.ArtifactReference(definition))!.Value;
                var code = await services.Artifacts.GetVersionAsync(entityId, project, codeName, reference, cancellationToken);
                if (code is null || code.Type == JobDefinitions.ArtifactType)
                {
                    return new Validation().Add("definition.source.artifact", $"no code artifact '{codeName}:{reference}' in project '{project}'; upload the code first").Result;
                }

                // Pin the version: an alias moves, a job version must not.
                definition = definition with { Source = Source(("artifact", $"{codeName}:{ArtifactRefs.Version(code.Version)}"), ("digest", code.Digest)) };
                break;
            case JobSourceTypes.Repo:
                var source = definition.Source!.Value;
                var subdir = source.TryGetProperty("subdir", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
                definition = definition with
                {
                    Source = Source(("remote", GitRemotes.StripCredentials(source.GetProperty("remote").GetString()!)), ("commit", source.GetProperty("commit").GetString()), ("subdir", subdir)),
                };
                break;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(definition, LiftoffJsonContext.Default.JobDefinition);
        var digest = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var now = services.Time.GetUtcNow();
        using (var content = new MemoryStream(bytes))
        {
            await services.Blobs.WriteAsync(digest, bytes.Length, content, cancellationToken);
        }

        await services.Artifacts.AddBlobAsync(entityId, digest, bytes.Length, now, cancellationToken);
        ManifestEntry[] files = [new(JobDefinitions.FileName, bytes.Length, digest)];
        var commit = await services.Artifacts.CommitVersionAsync(entityId, new NewArtifactVersion(
            project, request.Name!, JobDefinitions.ArtifactType, Manifests.Digest(files), files, ArtifactsApi.Aliases(request.Aliases),
            JsonObjects.Empty, request.RunId, now), cancellationToken);
        var info = new JobVersionInfo(ArtifactsApi.ToInfo(commit.Version, commit.Created), definition);
        return commit.Created
            ? TypedResults.Created($"/api/v1/jobs/{project}/{request.Name}?ref={info.Artifact.Version}", info)
            : TypedResults.Ok(info);
    }

    public static async Task<Ok<JobList>> ListJobs(string? project, [AsParameters] JobServices services, CancellationToken cancellationToken)
    {
        var jobs = await services.Artifacts.ListCollectionsAsync(services.Acting.EntityId, project, JobDefinitions.ArtifactType, cancellationToken);
        return TypedResults.Ok(new JobList([.. jobs.Select(j => new ArtifactInfo(j.Entity, j.Project, j.Name, j.Type, j.VersionCount, j.Latest is { } l ? ArtifactRefs.Version(l) : null, j.CreatedAt))]));
    }

    /// <summary>A job's versions and aliases, and the definition of the version <paramref name="ref"/> names (default latest).</summary>
    /// <summary>A job's versions and aliases, the definition of the version <paramref name="ref"/> names (default latest), and the runs launched from the job.</summary>
    public static async Task<Results<Ok<JobInfo>, ProblemHttpResult>> DescribeJob(string project, string name, string? @ref, [AsParameters] JobServices services, CancellationToken cancellationToken)
    {
        var entityId = services.Acting.EntityId;
        var reference = @ref ?? ArtifactRefs.Latest;
        if (await services.Jobs.FindAsync(entityId, project, name, reference, cancellationToken) is not { } selected)
        {
            return Problems.NotFound($"job '{name}:{reference}' not found in project '{project}'");
        }

        var versions = await services.Artifacts.ListVersionsAsync(entityId, project, name, cancellationToken) ?? [];
        var launched = await services.Runs.ListRunsAsync(new RunQuery(entityId, project, null, 100, null, Job: name), cancellationToken);
        return TypedResults.Ok(new JobInfo(selected.Artifact.Entity, project, name, [.. versions.Select(v => ArtifactsApi.ToInfo(v))],
            new JobVersionInfo(ArtifactsApi.ToInfo(selected.Artifact), selected.Definition), [.. launched.Runs.Select(r => r.Id)]));
    }

    private static JsonElement Source(params (string Name, string? Value)[] fields)
    {
        var source = new System.Text.Json.Nodes.JsonObject();
        foreach (var (name, value) in fields.Where(f => f.Value is not null))
        {
            source[name] = value;
        }

        return JsonSerializer.SerializeToElement(source, LiftoffJsonContext.Default.JsonObject);
    }
}

internal sealed class JobServices
{
    public required IArtifactStore Artifacts { get; init; }

    public required IBlobStore Blobs { get; init; }

    public required JobVersions Jobs { get; init; }

    public required IRunStore Runs { get; init; }

    public required TimeProvider Time { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);

    public Acting Acting => Acting.Of(Http);
}
