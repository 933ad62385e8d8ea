using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Liftoff.Server.Auth;
using Liftoff.Server.Blobs;
using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>
/// File contents by SHA-256: step 1 (which blobs are missing) and step 2 (upload) of an artifact upload, and download.
/// A blob counts as present for an entity only once that entity has uploaded it: one entity can neither learn that
/// another holds some content nor reference it by digest.
/// </summary>
internal static class BlobsApi
{
    private const int MaxPlannedUploads = 1_000;

    public static IEndpointRouteBuilder MapBlobsApi(this IEndpointRouteBuilder app)
    {
        // Uploads are content-addressed, so a run's key adds content without changing anyone's; it reads back only
        // what its run's artifacts hold.
        var blobs = app.MapGroup("/api/v1/blobs").RequireAuthorization().WithTags("Artifacts").RunKey(RunKeyAccess.Allowed).Needs(EntityRole.Member);
        blobs.MapPost("/check", CheckBlobs);
        blobs.MapPost("/uploads", PlanUploads);
        blobs.MapPut("/{sha256}", PutBlob);
        blobs.MapPost("/{sha256}/complete", CompleteUpload);
        blobs.MapGet("/{sha256}", GetBlob).RunKey(RunKeyAccess.Checked).AgentKey(AgentKeyAccess.Checked).Needs(EntityRole.Viewer);
        return app;
    }

    public static async Task<Results<Ok<BlobCheckReply>, ValidationProblem>> CheckBlobs(BlobCheckRequest request, [AsParameters] BlobServices services, CancellationToken cancellationToken)
    {
        if (ArtifactsApi.ManifestProblems(request.Files) is { } problem)
        {
            return problem;
        }

        var digests = request.Files!.Select(f => f.Sha256).Distinct(StringComparer.Ordinal).ToList();
        var held = await services.Artifacts.FindBlobsAsync(services.Acting.EntityId, digests, cancellationToken);
        return TypedResults.Ok(new BlobCheckReply([.. digests.Where(d => !held.ContainsKey(d))]));
    }

    /// <summary>
    /// How to send each blob: through the server (no parts) for the filesystem store; straight to the bucket through
    /// presigned part URLs for an S3 store. Nothing counts as uploaded until <see cref="CompleteUpload"/> checked it.
    /// </summary>
    public static async Task<Results<Ok<BlobUploadReply>, ValidationProblem>> PlanUploads(BlobUploadRequest request, [AsParameters] BlobServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        var blobs = request.Blobs;
        errors.Check(blobs is { Count: > 0 and <= MaxPlannedUploads }, "blobs", $"blobs lists 1 to {MaxPlannedUploads} blobs to upload");
        for (var i = 0; blobs is not null && i < blobs.Count && i < 20; i++)
        {
            errors.Check(blobs[i] is not null && Manifests.IsDigest(blobs[i].Sha256), $"blobs[{i}].sha256", "a blob is named by its SHA-256: 64 lowercase hex digits");
            errors.Check(blobs[i] is not null && blobs[i].Size >= 0 && blobs[i].Size <= services.Options.MaxBlobBytes, $"blobs[{i}].size", $"a blob is 0 to {services.Options.MaxBlobBytes} bytes");
        }

        errors.Check(blobs is null || blobs.Skip(20).All(b => b is not null && Manifests.IsDigest(b.Sha256) && b.Size >= 0 && b.Size <= services.Options.MaxBlobBytes),
            "blobs", $"every blob has a SHA-256 name and a size of 0 to {services.Options.MaxBlobBytes} bytes");
        if (errors.Any)
        {
            return errors.Result;
        }

        if (services.Blobs is not IDirectBlobStore direct)
        {
            return TypedResults.Ok(new BlobUploadReply([.. blobs!.Select(b => new BlobUpload(b.Sha256, b.Size, null, null, []))]));
        }

        var entityId = services.Acting.EntityId;
        var uploads = new List<BlobUpload>(blobs!.Count);
        foreach (var blob in blobs)
        {
            uploads.Add(await direct.PlanUploadAsync(entityId, blob.Sha256, blob.Size, cancellationToken));
        }

        return TypedResults.Ok(new BlobUploadReply(uploads));
    }

    /// <summary>Checks a direct upload (its size and SHA-256, read back from the bucket) and records the blob for the caller.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> CompleteUpload(string sha256, BlobCompleteRequest request, [AsParameters] BlobServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(Manifests.IsDigest(sha256), "sha256", "the blob is named by its SHA-256: 64 lowercase hex digits");
        errors.Check(request.Size >= 0 && request.Size <= services.Options.MaxBlobBytes, "size", $"a blob is 0 to {services.Options.MaxBlobBytes} bytes");
        errors.Check(request.Token is { Length: 32 } token && token.All(char.IsAsciiHexDigitLower), "token", "token is the one the upload plan gave (32 lowercase hex digits)");
        var parts = request.Parts ?? [];
        errors.Check(request.UploadId is null ? parts.Count == 0 : request.UploadId.Length is > 0 and <= 1024 && parts.Count is > 0 and <= 10_000, "parts",
            "a multipart upload (upload_id) lists its 1 to 10,000 parts; a single upload lists none");
        errors.Check(parts.Select((p, i) => p is not null && p.Number == i + 1 && !string.IsNullOrEmpty(p.Etag) && p.Etag.Length <= 1024).All(ok => ok), "parts",
            "parts are numbered 1, 2, 3, … in order, each with the ETag the bucket answered");
        if (errors.Any)
        {
            return errors.Result;
        }

        if (services.Blobs is not IDirectBlobStore direct)
        {
            return TypedResults.Problem("this server keeps blobs itself: send them with PUT /api/v1/blobs/{sha256}", statusCode: StatusCodes.Status409Conflict, title: "No direct uploads");
        }

        await direct.CompleteUploadAsync(services.Acting.EntityId, sha256, request, cancellationToken);
        await services.Artifacts.AddBlobAsync(services.Acting.EntityId, sha256, request.Size, services.Time.GetUtcNow(), cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>Streams the body into the blob store; its length is the Content-Length, checked against the bytes that arrive.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> PutBlob(string sha256, HttpRequest request, [AsParameters] BlobServices services, CancellationToken cancellationToken)
    {
        if (!Manifests.IsDigest(sha256))
        {
            return new Validation().Add("sha256", "the blob is named by its SHA-256: 64 lowercase hex digits").Result;
        }

        if (request.ContentLength is not { } size)
        {
            return TypedResults.Problem("send the blob with a Content-Length header (chunked uploads are not accepted)", statusCode: StatusCodes.Status411LengthRequired, title: "Length required");
        }

        if (size > services.Options.MaxBlobBytes)
        {
            return TypedResults.Problem($"a blob is at most {services.Options.MaxBlobBytes} bytes", statusCode: StatusCodes.Status413PayloadTooLarge, title: "The request body is too large");
        }

        // The server-wide body limit is for JSON requests; a blob's limit is its announced size.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = size;
        }

        await services.Blobs.WriteAsync(sha256, size, request.Body, cancellationToken);
        await services.Artifacts.AddBlobAsync(services.Acting.EntityId, sha256, size, services.Time.GetUtcNow(), cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>The blob's bytes (with range support) from the filesystem store; a redirect to a presigned URL for an S3 store.</summary>
    public static async Task<Results<PhysicalFileHttpResult, RedirectHttpResult, ProblemHttpResult, ValidationProblem>> GetBlob(string sha256, [AsParameters] BlobServices services, CancellationToken cancellationToken)
    {
        if (!Manifests.IsDigest(sha256))
        {
            return new Validation().Add("sha256", "the blob is named by its SHA-256: 64 lowercase hex digits").Result;
        }

        var held = await services.Artifacts.FindBlobsAsync(services.Acting.EntityId, [sha256], cancellationToken);
        if (!held.ContainsKey(sha256))
        {
            return Problems.NotFound($"blob {sha256} not found");
        }

        await services.Scope.DemandBlobAsync(services.Caller, sha256, cancellationToken);
        await services.AgentScope.DemandBlobAsync(services.Caller, services.Acting, sha256, cancellationToken);

        if (services.Blobs is IDirectBlobStore direct)
        {
            return TypedResults.Redirect((await direct.DownloadUrlAsync(sha256, cancellationToken)).ToString(), permanent: false, preserveMethod: true);
        }

        // The two stores there are: a bucket (above) or files.
        return ((FileSystemBlobStore)services.Blobs).FileOf(sha256) is { } path
            ? TypedResults.PhysicalFile(path, "application/octet-stream", enableRangeProcessing: true)
            : Problems.NotFound($"blob {sha256} not found");
    }
}

internal sealed class BlobServices
{
    public required IArtifactStore Artifacts { get; init; }

    public required IBlobStore Blobs { get; init; }

    public required ServerOptions Options { get; init; }

    public required TimeProvider Time { get; init; }

    public required RunKeyScope Scope { get; init; }

    public required AgentKeyScope AgentScope { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);

    public Acting Acting => Acting.Of(Http);
}
