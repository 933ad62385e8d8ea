using System.Security.Cryptography;
using System.Text;
using Liftoff.Contracts;

namespace Liftoff.Core.Artifacts;

/// <summary>Manifests of artifact versions: their validation and their content digest.</summary>
public static class Manifests
{
    public const int MaxFiles = 100_000;

    public static bool IsDigest(string? value) =>
        value is { Length: 64 } && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>Every problem of the manifest, each naming its field (<c>files[i].path</c>, <c>.size</c>, <c>.sha256</c>).</summary>
    public static IReadOnlyList<FieldError> Validate(IReadOnlyList<ManifestEntry?>? files)
    {
        var errors = new List<FieldError>();
        if (files is null || files.Count == 0)
        {
            errors.Add(new FieldError("files", "an artifact holds at least one file"));
            return errors;
        }

        if (files.Count > MaxFiles)
        {
            errors.Add(new FieldError("files", $"an artifact holds at most {MaxFiles} files"));
            return errors;
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            if (file is null)
            {
                errors.Add(new FieldError($"files[{i}]", "a file entry is an object {path, size, sha256}"));
                continue;
            }

            if (ArtifactPaths.Problem(file.Path) is { } problem)
            {
                errors.Add(new FieldError($"files[{i}].path", problem));
            }
            else if (!seen.TryAdd(file.Path, i))
            {
                errors.Add(new FieldError($"files[{i}].path", $"'{file.Path}' is listed twice (also files[{seen[file.Path]}])"));
            }

            if (file.Size < 0)
            {
                errors.Add(new FieldError($"files[{i}].size", "size is 0 or more bytes"));
            }

            if (!IsDigest(file.Sha256))
            {
                errors.Add(new FieldError($"files[{i}].sha256", "sha256 is 64 lowercase hex digits"));
            }
        }

        // A path that is also another path's directory could not be written out on download.
        foreach (var (path, index) in seen)
        {
            for (var slash = path.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = path.IndexOf('/', slash + 1))
            {
                if (seen.TryGetValue(path[..slash], out var fileIndex))
                {
                    errors.Add(new FieldError($"files[{index}].path", $"'{path}' lies under '{path[..slash]}', which is a file (files[{fileIndex}])"));
                    break;
                }
            }
        }

        return errors;
    }

    /// <summary>
    /// The content digest of a version: SHA-256 over its files sorted by path (ordinal), one
    /// <c>path NUL size NUL sha256 LF</c> record each. Equal files give equal digests, whatever the listing order.
    /// </summary>
    public static string Digest(IEnumerable<ManifestEntry> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{file.Path}\0{file.Size.ToString(System.Globalization.CultureInfo.InvariantCulture)}\0{file.Sha256}\n"));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
