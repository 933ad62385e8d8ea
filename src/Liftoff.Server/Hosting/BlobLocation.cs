namespace Liftoff.Server.Hosting;

/// <summary>
/// Where blobs live, as given by <c>--blobs</c> or <c>LIFTOFF_BLOBS</c>: nothing or <c>file://PATH</c> (the filesystem,
/// by default <c>blobs/</c> in the data directory), or <c>s3://BUCKET[/PREFIX]?endpoint=URL&amp;region=R</c> for an
/// S3-compatible bucket. Keys are never part of it: they come from <see cref="ServerOptions.S3AccessKeyId"/> and
/// <see cref="ServerOptions.S3SecretAccessKey"/> (or the AWS SDK's own chain), so that this may be printed.
/// </summary>
public abstract class BlobLocation
{
    /// <summary>The environment variable read when <c>--blobs</c> is not given.</summary>
    public const string EnvironmentVariable = "LIFTOFF_BLOBS";

    /// <summary>Parses <paramref name="value"/>; throws <see cref="FormatException"/> with a reason a person can act on.</summary>
    public static BlobLocation Parse(string? value, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        if (string.IsNullOrWhiteSpace(value))
        {
            return new FileSystemBlobLocation(Path.Combine(dataDirectory, "blobs"));
        }

        value = value.Trim();
        if (value.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            var path = value["file://".Length..];
            return path.Length == 0
                ? throw new FormatException("file:// names no directory; give file:///absolute/path or file://relative/path")
                : new FileSystemBlobLocation(Path.GetFullPath(path, dataDirectory));
        }

        if (value.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            return S3BlobLocation.FromUrl(value);
        }

        throw new FormatException("blobs are file://PATH or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION");
    }
}

/// <summary>Content-addressed files under <see cref="Directory"/>.</summary>
public sealed class FileSystemBlobLocation(string directory) : BlobLocation
{
    public string Directory { get; } = directory;

    public override string ToString() => "file://" + Directory;
}

/// <summary>An S3-compatible bucket: AWS itself when <see cref="Endpoint"/> is null, otherwise the server at that URL (path-style addressing).</summary>
public sealed class S3BlobLocation : BlobLocation
{
    private S3BlobLocation(string bucket, string prefix, Uri? endpoint, string region)
    {
        Bucket = bucket;
        Prefix = prefix;
        Endpoint = endpoint;
        Region = region;
    }

    public string Bucket { get; }

    /// <summary>Empty, or a key prefix ending in '/'.</summary>
    public string Prefix { get; }

    public Uri? Endpoint { get; }

    public string Region { get; }

    internal static S3BlobLocation FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var url) || url.Host.Length == 0)
        {
            throw new FormatException($"'{value}' is not s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION");
        }

        if (url.UserInfo.Length > 0)
        {
            throw new FormatException("keep the S3 keys out of --blobs: set LIFTOFF_S3_ACCESS_KEY_ID and LIFTOFF_S3_SECRET_ACCESS_KEY");
        }

        // Bucket names are lowercase letters, digits, '.' and '-', 3 to 63 long; Uri lowercases the host, so read it from the text.
        var bucket = value["s3://".Length..].Split('/', '?')[0];
        if (bucket.Length is < 3 or > 63 || !bucket.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-'))
        {
            throw new FormatException($"'{bucket}' is not an S3 bucket name (3 to 63 lowercase letters, digits, '.' or '-')");
        }

        var prefix = Uri.UnescapeDataString(url.AbsolutePath).Trim('/');
        Uri? endpoint = null;
        var region = "us-east-1";
        foreach (var pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, text) = pair.IndexOf('=', StringComparison.Ordinal) is var at and >= 0
                ? (pair[..at], Uri.UnescapeDataString(pair[(at + 1)..]))
                : (pair, "");
            switch (key)
            {
                case "endpoint":
                    if (!Uri.TryCreate(text, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https") || endpoint.UserInfo.Length > 0)
                    {
                        throw new FormatException($"endpoint '{text}' is not an http:// or https:// URL without credentials");
                    }

                    break;
                case "region":
                    region = text.Length > 0 ? text : throw new FormatException("region is empty");
                    break;
                default:
                    throw new FormatException($"unknown s3:// parameter '{key}' (endpoint and region are known)");
            }
        }

        return new S3BlobLocation(bucket, prefix.Length == 0 ? "" : prefix + "/", endpoint, region);
    }

    public override string ToString() =>
        $"s3://{Bucket}/{Prefix}?region={Region}" + (Endpoint is null ? "" : "&endpoint=" + Endpoint.GetLeftPart(UriPartial.Authority));
}
