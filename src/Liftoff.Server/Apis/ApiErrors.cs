using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Auth;
using Liftoff.Server.Blobs;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Server.Apis;

/// <summary>Turns the exceptions a request can legitimately end with into problem details a person can act on.</summary>
internal sealed partial class ApiErrors(IProblemDetailsService problems, ILogger<ApiErrors> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } => FieldProblem(JsonField(json), JsonMessage(json), "The request body is not valid"),
            BadHttpRequestException { StatusCode: 400 } bad when BoundParameter().Match(bad.Message) is { Success: true } parameter => FieldProblem(parameter.Groups[1].Value, bad.Message, "Bad request"),
            BadHttpRequestException { StatusCode: 413 } => Problem(413, "The request body is too large", null),
            BadHttpRequestException bad => Problem(bad.StatusCode, "Bad request", bad.Message),
            RunConflictException conflict => Problem(409, "The run's state does not allow this", conflict.Message),
            ItemConflictException conflict => Problem(409, "The launch item's state does not allow this", conflict.Message),
            DuplicateException duplicate => Problem(409, "Already exists", duplicate.Message),
            MembershipConflictException conflict => Problem(409, "The team's membership does not allow this", conflict.Message),
            ForbiddenException forbidden => Problem(403, "Forbidden", forbidden.Message),
            EntityNotFoundException missing => Problem(404, "Not Found", missing.Message),
            StoreValidationException invalid => FieldProblem(invalid.Field, invalid.Message),
            RequestFieldException invalid => FieldProblem(invalid.Field, invalid.Message),
            BlobMismatchException mismatch => FieldProblem(mismatch.Field, mismatch.Message),
            _ => null,
        };
        if (problem is null)
        {
            logger.LogError(exception, "Unhandled error on {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    private static ProblemDetails Problem(int status, string title, string? detail) => new() { Status = status, Title = title, Detail = detail };

    private static ValidationProblemDetails FieldProblem(string field, string message, string title = "One or more validation errors occurred.") => new(new Dictionary<string, string[]> { [field] = [message] })
    {
        Status = 400,
        Title = title,
        Detail = $"{field}: {message}",
    };

    /// <summary>System.Text.Json names the JSON path and position; keep that, and say the rest without .NET type names.</summary>
    private static string JsonMessage(JsonException json)
    {
        var message = json.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        var what = cut > 0 ? message[..cut] : message;
        what = MissingProperties().Match(what) is { Success: true } missing
            ? $"missing required properties: {missing.Groups[1].Value}"
            : NotConvertible().IsMatch(what) ? "the value has the wrong type" : what;
        return json.Path is null ? what : $"{what} (at {json.Path}, line {json.LineNumber + 1}, byte {json.BytePositionInLine})";
    }

    /// <summary>The wire name of the JSON path System.Text.Json stopped at (<c>$.rows[2].step</c> is <c>rows[2].step</c>); <c>body</c> for the whole.</summary>
    private static string JsonField(JsonException json)
    {
        var at = json.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..]
            : json.Path is { Length: > 1 } indexed && indexed.StartsWith("$[", StringComparison.Ordinal) ? "body" + indexed[1..]
            : null;
        return json is NullElementException { Element: var element } ? (at is null ? element : $"{at}.{element}") : at ?? "body";
    }

    /// <summary>ASP.NET's binding failures name the parameter as <c>"int? limit"</c> or <c>"limit"</c>.</summary>
    [GeneratedRegex("[Pp]arameter \"(?:[^\" ]+ )?([^\" ]+)\"")]
    private static partial Regex BoundParameter();

    [GeneratedRegex("was missing required properties including: (.*)\\.$")]
    private static partial Regex MissingProperties();

    [GeneratedRegex("^The JSON value could not be converted to ")]
    private static partial Regex NotConvertible();

    /// <summary>Details for the problems the framework answers by itself.</summary>
    public static void Describe(ProblemDetailsContext context)
    {
        var options = context.HttpContext.RequestServices.GetRequiredService<Hosting.ServerOptions>();
        context.ProblemDetails.Detail ??= context.ProblemDetails.Status switch
        {
            413 => $"the request body is larger than the server accepts ({options.MaxRequestBodyBytes / (1024 * 1024)} MiB); send smaller batches",
            415 => "send the body as JSON with 'Content-Type: application/json'",
            405 => $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}",
            404 => $"no such route: {context.HttpContext.Request.Path}",
            _ => null,
        };
    }
}
