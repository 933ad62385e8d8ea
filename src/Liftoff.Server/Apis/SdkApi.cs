using Liftoff.Server.Sdk;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>Serves the Python SDK: a wheel, and a PEP 503 simple index so pip can find it by name.</summary>
internal static class SdkApi
{
    public static IEndpointRouteBuilder MapSdkApi(this IEndpointRouteBuilder app)
    {
        var sdk = app.MapGroup("/sdk/python").AllowAnonymous().WithTags("SDK").ExcludeFromDescription();
        sdk.MapGet("/", Describe);
        sdk.MapGet("/{file}", Download);
        sdk.MapGet("/simple/", Index);
        sdk.MapGet("/simple/liftoff/", Links);
        return app;
    }

    public static ContentHttpResult Describe(HttpRequest request, Lazy<PythonWheel> wheel)
    {
        var url = $"{request.Scheme}://{request.Host}/sdk/python";
        return TypedResults.Text(
            $"Liftoff Python SDK {wheel.Value.Version}\n\nInstall it with:\n  pip install {url}/{wheel.Value.FileName}\nor, by name:\n  pip install --index-url {url}/simple/ liftoff\n");
    }

    public static Results<FileContentHttpResult, NotFound> Download(string file, Lazy<PythonWheel> wheel) =>
        file == wheel.Value.FileName
            ? TypedResults.File(wheel.Value.Bytes, "application/zip", wheel.Value.FileName)
            : TypedResults.NotFound();

    public static ContentHttpResult Index() =>
        TypedResults.Content("<!DOCTYPE html><html><body><a href=\"liftoff/\">liftoff</a></body></html>", "text/html");

    public static ContentHttpResult Links(Lazy<PythonWheel> wheel) =>
        TypedResults.Content($"<!DOCTYPE html><html><body><a href=\"../../{wheel.Value.FileName}\">{wheel.Value.FileName}</a></body></html>", "text/html");
}
