using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Artifacts;
using Liftoff.Core.Jobs;
using Liftoff.Core.Json;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>Versioned artifacts: commit (step 3 of an upload), versions, aliases, and the artifacts of a run.</summary>
internal static class ArtifactsApi
{
    private const int MaxAliases = 16;

    public static IEndpointRouteBuilder MapArtifactsApi(this IEndpointRouteBuilder app)
    {
        var artifacts = app.MapGroup("/api/v1/artifacts").RequireAuthorization().WithTags("Artifacts").Needs(EntityRole.Viewer);
        artifacts.MapGet("/", ListArtifacts);
        artifacts.MapPost("/{project}/{name}", CommitVersion).RunKey(RunKeyAccess.Checked).Needs(EntityRole.Member);
        artifacts.MapGet("/{project}/{name}", ListVersions);
        artifacts.MapGet("/{project}/{name}/{reference}", GetVersion).RunKey(RunKeyAccess.Checked).AgentKey(AgentKeyAccess.Checked);
        artifacts.MapPut("/{project}/{name}/aliases/{alias}", SetAlias).RunKey(RunKeyAccess.Checked).Needs(EntityRole.Member).Audited("alias.set", "{project}/{name}:{alias}");
        var runs = app.MapGroup("/api/v1/runs/{id}/artifacts").RequireAuthorization().WithTags("Artifacts").RunKey(RunKeyAccess.OwnRun).Needs(EntityRole.Viewer);
        runs.MapGet("/", ListRunArtifacts);
        runs.MapPost("/used", UseArtifact).Needs(EntityRole.Member);
        return app;
    }

    public static async Task<Ok<ArtifactList>> ListArtifacts(string? project, string? type, HttpContext http, IArtifactStore store, CancellationToken cancellationToken)
    {
        var collections = await store.ListCollectionsAsync(Acting.Of(http).EntityId, project, type, cancellationToken);
        return TypedResults.Ok(new ArtifactList([.. collections.Select(ToInfo)]));
    }

    public static async Task<Results<Created<ArtifactVersionInfo>, Ok<ArtifactVersionInfo>, ValidationProblem>> CommitVersion(
        string project, string name, CommitArtifactRequest request, HttpContext http, IArtifactStore store, RunKeyScope scope, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        CheckName(errors, project, name);
        errors.Check(Names.IsValid(request.Type), "type", $"an artifact type is {Names.Rule}, e.g. dataset or model");
        errors.Check(request.Type != JobDefinitions.ArtifactType, "type", "job artifacts are created through POST /api/v1/jobs, which validates their definition");
        CheckAliases(errors, request.Aliases);
        errors.Check(request.Metadata is null or { ValueKind: JsonValueKind.Object or JsonValueKind.Null }, "metadata", "metadata is a JSON object");
        if (errors.Any)
        {
            return errors.Result;
        }

        if (ManifestProblems(request.Files) is { } problem)
        {
            return problem;
        }

        var caller = Caller.From(http.User);

        var acting = Acting.Of(http);
        await scope.DemandProjectAsync(caller, project, cancellationToken);
        var commit = await store.CommitVersionAsync(acting.EntityId, new NewArtifactVersion(
            project, name, request.Type!, Manifests.Digest(request.Files!), request.Files!, Aliases(request.Aliases),
            request.Metadata is { ValueKind: JsonValueKind.Object } metadata ? metadata.GetRawText() : JsonObjects.Empty,
            RunKeyScope.Producer(caller, request.RunId), time.GetUtcNow(), AliasOwnVersionOnly: caller.RunScope is not null), cancellationToken);
        return Committed(commit);
    }

    public static async Task<Results<Ok<ArtifactVersionList>, ProblemHttpResult, ValidationProblem>> ListVersions(string project, string name, HttpContext http, IArtifactStore store, CancellationToken cancellationToken)
    {
        var versions = await store.ListVersionsAsync(Acting.Of(http).EntityId, project, name, cancellationToken);
        return versions is null ? ArtifactNotFound(project, name) : TypedResults.Ok(new ArtifactVersionList([.. versions.Select(v => ToInfo(v))]));
    }

    public static async Task<Results<Ok<ArtifactVersionInfo>, ProblemHttpResult>> GetVersion(
        string project, string name, string reference, HttpContext http, IArtifactStore store, RunKeyScope scope, AgentKeyScope agentScope, CancellationToken cancellationToken)
    {
        var caller = Caller.From(http.User);
        var acting = Acting.Of(http);
        await scope.DemandProjectAsync(caller, project, cancellationToken);
        var version = await store.GetVersionAsync(acting.EntityId, project, name, reference, cancellationToken);
        if (version is null)
        {
            return ArtifactNotFound(project, $"{name}:{reference}");
        }

        await scope.DemandReadAsync(caller, version, cancellationToken);
        await agentScope.DemandReadAsync(caller, acting, version, cancellationToken);
        return TypedResults.Ok(ToInfo(version));
    }

    /// <summary>
    /// Points an alias at a version. Pointing 'latest' at an earlier version is how the owner takes back a bad job
    /// version: it holds until the next new version.
    /// </summary>
    public static async Task<Results<Ok<ArtifactVersionInfo>, ProblemHttpResult, ValidationProblem>> SetAlias(
        string project, string name, string alias, SetAliasRequest request, HttpContext http, IArtifactStore store, RunKeyScope scope, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(alias == ArtifactRefs.Latest || ArtifactRefs.IsAlias(alias), "alias", $"an alias is {ArtifactRefs.AliasRule}");
        var number = request.Version is null ? null : ArtifactRefs.ParseVersion(request.Version);
        errors.Check(number is not null, "version", "version is vK, e.g. v3");
        if (errors.Any)
        {
            return errors.Result;
        }

        var caller = Caller.From(http.User);

        var acting = Acting.Of(http);
        await scope.DemandAliasAsync(caller, project, name, alias, number!.Value, cancellationToken);
        var version = await store.SetAliasAsync(acting.EntityId, project, name, alias, number!.Value, cancellationToken);
        return version is null ? ArtifactNotFound(project, $"{name}:{request.Version}") : TypedResults.Ok(ToInfo(version));
    }

    public static async Task<Results<Ok<ArtifactVersionInfo>, ProblemHttpResult, ValidationProblem>> UseArtifact(
        string id, UseArtifactRequest request, HttpContext http, IRunStore runs, IArtifactStore store, RunKeyScope scope, TimeProvider time, CancellationToken cancellationToken)
    {
        if (ArtifactRefs.Parse(request.Artifact) is not { } parsed)
        {
            return new Validation().Add("artifact", "artifact is name, name:alias or name:vK").Result;
        }

        var (name, reference) = parsed;

        var caller = Caller.From(http.User);

        var acting = Acting.Of(http);
        var entityId = acting.EntityId;
        var run = await runs.GetRunAsync(entityId, id, cancellationToken);
        if (run is null)
        {
            return Problems.RunNotFound(id);
        }

        var project = request.Project ?? run.Project;
        await scope.DemandProjectAsync(caller, project, cancellationToken);
        var used = await store.RecordUseAsync(entityId, id, project, name, reference, time.GetUtcNow(), cancellationToken);
        if (used is null)
        {
            return ArtifactNotFound(project, request.Artifact!);
        }

        var withFiles = await store.GetVersionAsync(entityId, project, name, ArtifactRefs.Version(used.Version), cancellationToken);
        return TypedResults.Ok(ToInfo(withFiles!));
    }

    public static async Task<Results<Ok<RunArtifacts>, ProblemHttpResult>> ListRunArtifacts(string id, HttpContext http, IArtifactStore store, CancellationToken cancellationToken)
    {
        var artifacts = await store.ListRunArtifactsAsync(Acting.Of(http).EntityId, id, cancellationToken);
        return artifacts is null
            ? Problems.RunNotFound(id)
            : TypedResults.Ok(new RunArtifacts([.. artifacts.Used.Select(v => ToInfo(v))], [.. artifacts.Produced.Select(v => ToInfo(v))]));
    }

    /// <summary>A 400 naming each bad field of a manifest, or null when it is acceptable.</summary>
    public static ValidationProblem? ManifestProblems(IReadOnlyList<ManifestEntry>? files)
    {
        var problems = Manifests.Validate(files);
        if (problems.Count == 0)
        {
            return null;
        }

        var errors = new Validation();
        errors.AddRange(problems.Take(20));

        return errors.Result;
    }

    public static void CheckName(Validation errors, string project, string name)
    {
        errors.Check(Names.IsValid(project), "project", $"'{project}' is not a valid project name: {Names.Rule}");
        errors.Check(Names.IsValid(name), "name", $"'{name}' is not a valid artifact name: {Names.Rule}");
    }

    public static void CheckAliases(Validation errors, IReadOnlyList<string>? aliases)
    {
        if (aliases is null)
        {
            return;
        }

        errors.Check(aliases.Count <= MaxAliases, "aliases", $"at most {MaxAliases} aliases");
        for (var i = 0; i < aliases.Count; i++)
        {
            errors.Check(aliases[i] == ArtifactRefs.Latest || ArtifactRefs.IsAlias(aliases[i]), $"aliases[{i}]", $"an alias is {ArtifactRefs.AliasRule}");
        }
    }

    /// <summary>The user aliases to set: 'latest' is the server's to move, so naming it is a no-op.</summary>
    public static IReadOnlyList<string> Aliases(IReadOnlyList<string>? aliases) =>
        aliases is null ? [] : [.. aliases.Where(a => a != ArtifactRefs.Latest).Distinct(StringComparer.Ordinal)];

    public static Results<Created<ArtifactVersionInfo>, Ok<ArtifactVersionInfo>, ValidationProblem> Committed(ArtifactCommit commit)
    {
        var info = ToInfo(commit.Version, commit.Created);
        return commit.Created
            ? TypedResults.Created($"/api/v1/artifacts/{info.Project}/{info.Name}/{info.Version}", info)
            : TypedResults.Ok(info);
    }

    public static ProblemHttpResult ArtifactNotFound(string project, string what) => Problems.NotFound($"artifact '{what}' not found in project '{project}'");

    public static ArtifactVersionInfo ToInfo(ArtifactVersionRecord version, bool created = false) => new(
        version.Entity, version.Project, version.Name, version.Type, ArtifactRefs.Version(version.Version), version.Digest, version.Size,
        version.FileCount, version.Aliases, Mapping.Json(version.MetadataJson), version.ProducedBy, version.CreatedAt, created, version.Files);

    private static ArtifactInfo ToInfo(ArtifactCollectionRecord collection) => new(
        collection.Entity, collection.Project, collection.Name, collection.Type, collection.VersionCount,
        collection.Latest is { } latest ? ArtifactRefs.Version(latest) : null, collection.CreatedAt);
}
