using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Liftoff.Server.Web;

/// <summary>
/// The web app's files, embedded in this assembly at build time (the app's own modules from Web/app, and the charting
/// library from the npm build step), so wherever the server runs, its app matches it. The pages are a single HTML
/// document with hash routes; everything else they show comes from the JSON API.
/// </summary>
internal static class WebApp
{
    private const string ResourcePrefix = "web/";

    /// <summary>
    /// Scripts and styles from this server only, no inline script, no framing: a value that slipped past escaping
    /// still could not run. uPlot sizes its elements through the style property (CSSOM), which style-src does not govern.
    /// </summary>
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static readonly Lazy<FrozenDictionary<string, WebFile>> Files = new(Load);

    public static IEndpointRouteBuilder MapWebApp(this IEndpointRouteBuilder app)
    {
        var web = app.MapGroup("").AllowAnonymous().ExcludeFromDescription();
        web.MapGet("/", (HttpContext http) => Serve(http, "index.html"));
        web.MapGet("/app/{**path}", (string path, HttpContext http) => Serve(http, path));
        // The address the SDKs print for a run ("liftoff: run NAME (ID) -> BASE/runs/ID[?entity=TEAM]") opens its page,
        // in the team's view for a team's run.
        web.MapGet("/runs/{id}", (string id, string? entity) => TypedResults.Redirect(
            $"/#/runs/{Uri.EscapeDataString(id)}{(string.IsNullOrEmpty(entity) ? "" : "?entity=" + Uri.EscapeDataString(entity))}"));
        return app;
    }

    private static Results<FileContentHttpResult, StatusCodeHttpResult, NotFound> Serve(HttpContext http, string path)
    {
        if (!Files.Value.TryGetValue(path, out var file))
        {
            return TypedResults.NotFound();
        }

        var headers = http.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XFrameOptions = "DENY";
        var etag = new EntityTagHeaderValue(file.ETag);
        return http.Request.GetTypedHeaders().IfNoneMatch.Any(t => t.Compare(etag, useStrongComparison: false))
            ? TypedResults.StatusCode(StatusCodes.Status304NotModified)
            : TypedResults.File(file.Content, file.ContentType, entityTag: etag);
    }

    private static FrozenDictionary<string, WebFile> Load()
    {
        var assembly = Assembly.GetExecutingAssembly();
        var files = new Dictionary<string, WebFile>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            files[name[ResourcePrefix.Length..]] = new WebFile(content, ContentType(name), $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }

        if (!files.ContainsKey("index.html"))
        {
            throw new InvalidOperationException("the web app is missing from Liftoff.Server.dll: it was built without its Web/app files");
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private sealed record WebFile(byte[] Content, string ContentType, string ETag);
}
