using Liftoff.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Liftoff.Server.Apis;

internal static class Problems
{
    public static ProblemHttpResult NotFound(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static ProblemHttpResult RunNotFound(string id) => NotFound($"run '{id}' not found");

    public static ProblemHttpResult Conflict(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    /// <summary>A 409 of its own type: the one answer that tells an agent to stop claiming.</summary>
    public static ProblemHttpResult AgentStopRequested(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "The agent was asked to stop claiming", type: ProblemTypes.AgentStopRequested);

    public static ProblemHttpResult Forbidden(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
}

/// <summary>Collects field errors of one request, for a single validation problem naming every bad field.</summary>
internal sealed class Validation
{
    private readonly Dictionary<string, string[]> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public ValidationProblem Result => TypedResults.ValidationProblem(_errors, detail: string.Join("; ", _errors.Select(e => $"{e.Key}: {e.Value[0]}")));

    public Validation Add(string field, string message)
    {
        _errors[field] = [message];
        return this;
    }

    public Validation AddRange(IEnumerable<Core.FieldError> errors)
    {
        foreach (var error in errors)
        {
            Add(error.Field, error.Message);
        }

        return this;
    }

    public void Check(bool ok, string field, string message)
    {
        if (!ok)
        {
            Add(field, message);
        }
    }
}
