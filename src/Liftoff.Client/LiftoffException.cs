using System.Net;

namespace Liftoff.Client;

/// <summary>A request the server refused, or a client-side problem, with a message a person can act on.</summary>
public sealed class LiftoffException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public LiftoffException(string message) : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public LiftoffException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for an HTTP error answer.</summary>
    public LiftoffException(string message, HttpStatusCode statusCode) : base(message)
    {
        StatusCode = statusCode;
    }

    /// <summary>Creates an exception for an HTTP error answer whose problem document names its type.</summary>
    public LiftoffException(string message, HttpStatusCode statusCode, string? problemType) : this(message, statusCode)
    {
        ProblemType = problemType;
    }

    /// <summary>The HTTP status the server answered with, when it answered.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>
    /// The problem document's <c>type</c> when it is one of Liftoff's (see <see cref="Contracts.ProblemTypes"/>), else null:
    /// act on this, not on the status, when a status has several causes.
    /// </summary>
    public string? ProblemType { get; }
}
