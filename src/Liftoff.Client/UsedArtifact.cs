using Liftoff.Contracts;

namespace Liftoff.Client;

/// <summary>An artifact version a run uses; <see cref="DownloadAsync"/> fetches its files.</summary>
public sealed class UsedArtifact
{
    private readonly LiftoffClient _client;

    internal UsedArtifact(LiftoffClient client, ArtifactVersionInfo version)
    {
        _client = client;
        Version = version;
    }

    /// <summary>The version, with its file list.</summary>
    public ArtifactVersionInfo Version { get; }

    /// <summary>
    /// Downloads the files into <paramref name="root"/>, default <c>./artifacts/NAME-vK</c>, checking every digest; files
    /// already there with the right content are kept. Returns the directory.
    /// </summary>
    public Task<string> DownloadAsync(string? root = null, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        _client.DownloadArtifactAsync(Version, root ?? Path.Combine("artifacts", $"{Version.Name}-{Version.Version}"), progress, cancellationToken);
}
