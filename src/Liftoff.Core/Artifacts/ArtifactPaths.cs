using System.Text;

namespace Liftoff.Core.Artifacts;

/// <summary>
/// The paths an artifact may hold: relative, '/'-separated, with no segment that could climb out of the directory the
/// files are written to or be read differently by another OS. Checked by the server on every manifest and again by
/// each client before it writes a downloaded file.
/// </summary>
public static class ArtifactPaths
{
    public const int MaxPathBytes = 1024;
    public const int MaxSegmentBytes = 255;

    /// <summary>Why <paramref name="path"/> is not allowed, or null when it is.</summary>
    public static string? Problem(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "the path is empty";
        }

        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
        {
            return $"the path is longer than {MaxPathBytes} bytes";
        }

        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c == '\0')
            {
                return "the path contains a NUL character";
            }

            if (char.IsControl(c))
            {
                return $"the path contains the control character U+{(int)c:X4}";
            }

            if (c == '\\')
            {
                return "the path contains '\\'; separate directories with '/'";
            }

            if (char.IsHighSurrogate(c) && i + 1 < path.Length && char.IsLowSurrogate(path[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return "the path is not valid Unicode (a lone surrogate)";
            }
        }

        if (path[0] == '/')
        {
            return "the path is absolute; artifact paths are relative to the artifact's root";
        }

        if (path.Length >= 2 && path[1] == ':' && char.IsAsciiLetter(path[0]))
        {
            return "the path starts with a drive letter; artifact paths are relative to the artifact's root";
        }

        foreach (var segment in path.Split('/'))
        {
            switch (segment)
            {
                case "":
                    return "the path has an empty segment ('//' or a trailing '/')";
                case ".":
                case "..":
                    return $"the path has a '{segment}' segment; artifact paths may not climb directories";
            }

            if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
            {
                return $"a path segment is longer than {MaxSegmentBytes} bytes";
            }
        }

        return null;
    }
}
