using Liftoff.Core.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Liftoff.Server.Apis;

/// <summary>
/// The one check, ahead of every route (REST, SDK, wandb, <c>/graphql</c>), for input JSON allows but nothing can
/// keep (see <see cref="JsonText"/>): a request holding a string that is not valid Unicode or a number beyond double
/// range is refused (400 naming the field) before any handler sees it, so nothing is stored half-way and no stored row
/// can later break a listing.
/// </summary>
internal static class UnkeepableInput
{
    public static IApplicationBuilder UseUnkeepableInputCheck(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        foreach (var (name, values) in request.Query)
        {
            if (!JsonText.IsValidUnicode(name) || values.Any(v => v is not null && !JsonText.IsValidUnicode(v)))
            {
                throw new RequestFieldException(name, "the query parameter " + JsonText.NotUnicode);
            }

            if (name.Contains('\0', StringComparison.Ordinal) || values.Any(v => v?.Contains('\0', StringComparison.Ordinal) == true))
            {
                throw new RequestFieldException(name, "the query parameter " + JsonText.HoldsNul);
            }
        }

        if (!JsonText.IsValidUnicode(request.Path.Value))
        {
            throw new RequestFieldException("path", "the path " + JsonText.NotUnicode);
        }

        // A body over the limit is left to the route, which answers 413 without reading it.
        if (HasJsonBody(request) && !(request.ContentLength > context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize))
        {
            // Read once into memory (the JSON readers would buffer it anyway; Kestrel's body limit still applies) and
            // handed on as a seekable stream, so the route reads the same bytes.
            var body = new MemoryStream(request.ContentLength is > 0 and <= int.MaxValue ? (int)request.ContentLength.Value : 0);
            await request.Body.CopyToAsync(body, context.RequestAborted);
            var keepNul = context.GetEndpoint()?.Metadata.GetMetadata<ConsoleTextInput>() is not null;
            if (JsonText.FindUnkeepable(body.GetBuffer().AsSpan(0, (int)body.Length), keepNul: keepNul) is { } error)
            {
                throw new RequestFieldException(error.Field.Length == 0 ? "body" : error.Field, error.Message);
            }

            body.Position = 0;
            request.Body = body;
        }

        await next(context);
    });

    /// <summary>
    /// JSON routes bind only <c>application/json</c> bodies; the wandb routes read theirs whatever the content type.
    /// Blob uploads (octet streams, up to a terabyte) are never read here.
    /// </summary>
    private static bool HasJsonBody(HttpRequest request) =>
        (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsPatch(request.Method))
        && (request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true
            || request.Path.Equals("/graphql", StringComparison.Ordinal)
            || (request.Path.StartsWithSegments("/files", StringComparison.Ordinal) && request.Path.Value!.EndsWith("/file_stream", StringComparison.Ordinal)));
}

/// <summary>
/// Endpoint metadata: the route takes console text, where a NUL character a program printed is kept as U+FFFD
/// (<see cref="JsonText.ConsoleText"/>) instead of refusing the whole batch.
/// </summary>
internal sealed class ConsoleTextInput
{
    public static readonly ConsoleTextInput Instance = new();

    private ConsoleTextInput()
    {
    }
}

internal static class ConsoleTextInputExtensions
{
    public static TBuilder TakesConsoleText<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(ConsoleTextInput.Instance);
}

/// <summary>A request field the server cannot take (HTTP 400 naming it), found before any route handles the request.</summary>
internal sealed class RequestFieldException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
