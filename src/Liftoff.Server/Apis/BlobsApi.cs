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
    public static IEndpointRouteBuilder MapBlobsApi(this IEndpointRouteBuilder app)
    {
        var blobs = app.MapGroup("/api/v1/blobs").RequireAuthorization().WithTags("Artifacts");
        blobs.MapPost("/check", CheckBlobs);
        blobs.MapPut("/{sha256}", PutBlob);
        blobs.MapGet("/{sha256}", GetBlob);
        return app;
    }

    public static async Task<Results<Ok<BlobCheckReply>, ValidationProblem>> CheckBlobs(BlobCheckRequest request, [AsParameters] BlobServices services, CancellationToken cancellationToken)
    {
        if (ArtifactsApi.ManifestProblems(request.Files) is { } problem)
        {
            return problem;
        }

        var digests = request.Files!.Select(f => f.Sha256).Distinct(StringComparer.Ordinal).ToList();
        var held = await services.Artifacts.FindBlobsAsync(services.Caller.EntityId, digests, cancellationToken);
        return TypedResults.Ok(new BlobCheckReply([.. digests.Where(d => !held.ContainsKey(d))]));
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
        await services.Artifacts.AddBlobAsync(services.Caller.EntityId, sha256, size, services.Time.GetUtcNow(), cancellationToken);
        return TypedResults.NoContent();
    }

    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult, ValidationProblem>> GetBlob(string sha256, [AsParameters] BlobServices services, CancellationToken cancellationToken)
    {
        if (!Manifests.IsDigest(sha256))
        {
            return new Validation().Add("sha256", "the blob is named by its SHA-256: 64 lowercase hex digits").Result;
        }

        var held = await services.Artifacts.FindBlobsAsync(services.Caller.EntityId, [sha256], cancellationToken);
        var stream = held.ContainsKey(sha256) ? await services.Blobs.OpenReadAsync(sha256, cancellationToken) : null;
        return stream is null
            ? Problems.NotFound($"blob {sha256} not found")
            : TypedResults.Stream(stream, "application/octet-stream");
    }
}

internal sealed class BlobServices
{
    public required IArtifactStore Artifacts { get; init; }

    public required IBlobStore Blobs { get; init; }

    public required ServerOptions Options { get; init; }

    public required TimeProvider Time { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);
}
