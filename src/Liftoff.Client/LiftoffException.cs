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

    /// <summary>The HTTP status the server answered with, when it answered.</summary>
    public HttpStatusCode? StatusCode { get; }
}
