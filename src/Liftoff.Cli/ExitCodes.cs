namespace Liftoff.Cli;

/// <summary>What the liftoff command's exit status means.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The server refused the request or it could not be carried out.</summary>
    public const int Failed = 1;

    /// <summary>Wrong usage: a bad option value or a missing setting.</summary>
    public const int Usage = 2;

    /// <summary>The key is missing, wrong or revoked.</summary>
    public const int Unauthorized = 3;

    /// <summary>The run (or other resource) does not exist or is not yours.</summary>
    public const int NotFound = 4;

    /// <summary>The server could not be reached.</summary>
    public const int Unreachable = 5;
}
