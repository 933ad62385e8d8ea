using System.Text.Json;

namespace Liftoff.Client;

/// <summary>What an uploaded artifact version is: its type, aliases, the run that produced it, free-form metadata.</summary>
public sealed record ArtifactUploadOptions(string Type)
{
    /// <summary>Aliases to point at the version (<c>latest</c> moves by itself).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The run that produced the version, if any.</summary>
    public string? RunId { get; init; }

    /// <summary>A JSON object stored with the version.</summary>
    public JsonElement? Metadata { get; init; }
}

/// <summary>How far an upload or download has come: bytes and files sent (or received) of those that must move.</summary>
/// <param name="Phase">hashing, uploading or downloading.</param>
/// <param name="BytesDone">Bytes hashed or transferred so far.</param>
/// <param name="BytesTotal">Bytes to hash or transfer in this phase.</param>
/// <param name="FilesDone">Files finished in this phase.</param>
/// <param name="FilesTotal">Files in this phase.</param>
public sealed record TransferProgress(string Phase, long BytesDone, long BytesTotal, int FilesDone, int FilesTotal);
