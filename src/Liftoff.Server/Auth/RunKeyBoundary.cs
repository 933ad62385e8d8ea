using System.Security.Claims;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Liftoff.Core.Jobs;
using Liftoff.Core.Launch;
using Liftoff.Server.Launch;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Auth;

/// <summary>
/// What a run-scoped key (a launched job's <c>LIFTOFF_API_KEY</c>, run by code the owner did not write) may do on an
/// endpoint. An endpoint that declares nothing is user-key only, so a new endpoint is closed to launched code until
/// someone decides otherwise (docs/api.md has the table; RunKeyMatrixTests holds every endpoint to it).
/// </summary>
internal enum RunKeyAccess
{
    UserKeyOnly,

    /// <summary>The route's run parameter must name the key's own run.</summary>
    OwnRun,

    /// <summary>Let through: the handler checks the resource with <see cref="RunKeyScope"/>.</summary>
    Checked,

    /// <summary>Let through: nothing here belongs to another run or project (the caller's own identity, content-addressed uploads).</summary>
    Allowed,
}

/// <summary>Endpoint metadata: the <see cref="RunKeyAccess"/> of the endpoint, or of every endpoint of a group.</summary>
internal sealed record RunKeyRule(RunKeyAccess Access, string RunParameter = "id");

internal static class RunKeyBoundary
{
    public static TBuilder RunKey<TBuilder>(this TBuilder builder, RunKeyAccess access, string runParameter = "id")
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new RunKeyRule(access, runParameter));

    /// <summary>After authorization: refuses a run's key on the endpoints its <see cref="RunKeyRule"/> closes to it.</summary>
    public static IApplicationBuilder UseRunKeyBoundary(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.User.FindFirstValue(Caller.RunClaim) is { } run && context.GetEndpoint() is { } endpoint && Refusal(endpoint, context, run) is { } refusal)
        {
            throw new ForbiddenException(refusal);
        }

        await next(context);
    });

    /// <summary>Why the run's key may not call <paramref name="endpoint"/>, or null when it may.</summary>
    private static string? Refusal(Endpoint endpoint, HttpContext context, string run)
    {
        // A route that needs no key grants a key nothing.
        if (endpoint.Metadata.GetMetadata<IAuthorizeData>() is null || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            return null;
        }

        var rule = endpoint.Metadata.GetMetadata<RunKeyRule>() ?? new RunKeyRule(RunKeyAccess.UserKeyOnly);
        return rule.Access switch
        {
            RunKeyAccess.UserKeyOnly => $"a run's key may not call {context.Request.Method} {(endpoint as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path}: "
                + $"this key belongs to launched run {run}, and launched code may only report into its run; use your own API key",
            RunKeyAccess.OwnRun when !Equals(context.Request.RouteValues[rule.RunParameter] as string, run) =>
                $"a run's key reaches its own run only: this key belongs to launched run {run}",
            _ => null,
        };
    }
}

/// <summary>
/// The ownership checks of the endpoints a run's key reaches as <see cref="RunKeyAccess.Checked"/>: its run's project,
/// the artifacts its launch needs or its run used or produced, and the aliases of versions its run produced. Every
/// check passes for a user's key (or web session).
/// </summary>
internal sealed class RunKeyScope(IRunStore runs, IArtifactStore artifacts, IQueueStore queues, JobVersions jobs)
{
    private const string ReadRule = "a run's key reads only the artifacts of its launch and those its run used (use_artifact) or produced";

    /// <summary>The project of the key's run: artifacts are written there only.</summary>
    public async Task DemandProjectAsync(Caller caller, string project, CancellationToken cancellationToken)
    {
        if (caller.RunScope is { } run && await RunProjectAsync(caller, run, cancellationToken) is var own && own != project)
        {
            throw new ForbiddenException($"a run's key reaches its run's project '{own}' only, not '{project}'");
        }
    }

    public async Task DemandReadAsync(Caller caller, ArtifactVersionRecord version, CancellationToken cancellationToken)
    {
        if (caller.RunScope is not { } run)
        {
            return;
        }

        // Produced means created by the run: committing files identical to another's version links the run to it
        // without granting it that version.
        var linked = await artifacts.ListRunArtifactsAsync(caller.Id, run, cancellationToken);
        bool Same(ArtifactVersionRecord v) => v.Project == version.Project && v.Name == version.Name && v.Version == version.Version;
        if (version.ProducedBy == run || (linked is not null && linked.Used.Any(Same)))
        {
            return;
        }

        if (!(await LaunchVersionsAsync(caller.Id, run, cancellationToken)).Any(Same))
        {
            throw new ForbiddenException($"{ReadRule}; record the use of {version.Name}:{ArtifactRefs.Version(version.Version)} with use_artifact first");
        }
    }

    public async Task DemandBlobAsync(Caller caller, string digest, CancellationToken cancellationToken)
    {
        if (caller.RunScope is not { } run || await artifacts.RunReferencesBlobAsync(caller.Id, run, digest, cancellationToken))
        {
            return;
        }

        if (!(await LaunchVersionsAsync(caller.Id, run, cancellationToken)).Any(v => v.Files?.Any(f => f.Sha256 == digest) == true))
        {
            throw new ForbiddenException($"{ReadRule}; no such artifact holds blob {digest}");
        }
    }

    /// <summary>
    /// A run's key puts an alias only on a version its run produced, takes it only from one its run produced, and never
    /// moves 'latest' (the owner's to point back).
    /// </summary>
    public async Task DemandAliasAsync(Caller caller, string project, string name, string alias, int number, CancellationToken cancellationToken)
    {
        if (caller.RunScope is not { } run)
        {
            return;
        }

        await DemandProjectAsync(caller, project, cancellationToken);
        var versions = await artifacts.ListVersionsAsync(caller.Id, project, name, cancellationToken) ?? [];
        if (versions.FirstOrDefault(v => v.Version == number) is not { } version)
        {
            return;
        }

        if (alias == ArtifactRefs.Latest)
        {
            throw new ForbiddenException("a run's key may not move 'latest'; only the owner points it back at an earlier version");
        }

        if (version.ProducedBy != run)
        {
            throw new ForbiddenException($"a run's key sets aliases only on versions its run produced; {name}:{ArtifactRefs.Version(number)} was not produced by run {run}");
        }

        if (versions.FirstOrDefault(v => v.Version != number && v.Aliases.Contains(alias)) is { } holder && holder.ProducedBy != run)
        {
            throw new ForbiddenException($"alias '{alias}' is on {name}:{ArtifactRefs.Version(holder.Version)}, which run {run} did not produce; a run's key may not move it");
        }
    }

    /// <summary>The run id a commit records as its producer: a run's key can only name its own run.</summary>
    public static string? Producer(Caller caller, string? requested) => caller.RunScope switch
    {
        null => requested,
        { } run when requested is null || requested == run => run,
        { } run => throw new ForbiddenException($"a run's key records only its own run {run} as the producer, not '{requested}'"),
    };

    private async Task<string> RunProjectAsync(Caller caller, string run, CancellationToken cancellationToken) =>
        (await runs.GetRunAsync(caller.Id, run, cancellationToken))?.Project
            ?? throw new ForbiddenException($"launched run {run} no longer exists");

    /// <summary>The job version the run was launched from and, for a code job, its code artifact.</summary>
    private async Task<IReadOnlyList<ArtifactVersionRecord>> LaunchVersionsAsync(long entityId, string run, CancellationToken cancellationToken) =>
        await queues.FindItemByRunAsync(entityId, run, cancellationToken) is { } item ? await LaunchVersionsAsync(entityId, item, cancellationToken) : [];

    /// <summary>The job version <paramref name="item"/> launches and, for a code job, its code artifact.</summary>
    public async Task<IReadOnlyList<ArtifactVersionRecord>> LaunchVersionsAsync(long entityId, ItemRecord item, CancellationToken cancellationToken)
    {
        if (ArtifactRefs.Parse(item.Job) is not { } reference
            || await jobs.FindAsync(entityId, item.Project, reference.Name, reference.Reference, cancellationToken) is not { } job)
        {
            return [];
        }

        if (job.Definition.SourceType != JobSourceTypes.Artifact || ArtifactRefs.Parse(JobDefinitions.ArtifactReference(job.Definition)) is not { } code
            || await artifacts.GetVersionAsync(entityId, item.Project, code.Name, code.Reference, cancellationToken) is not { } codeVersion)
        {
            return [job.Artifact];
        }

        return [job.Artifact, codeVersion];
    }
}
