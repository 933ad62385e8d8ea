using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Liftoff.Server.Sdk;

/// <summary>
/// The Python SDK as a wheel, built from the package sources embedded in this assembly, so that
/// <c>pip install URL</c> works on any machine that reaches the server, with no index and no build step.
/// </summary>
internal sealed partial class PythonWheel
{
    private const string ResourcePrefix = "sdk/python/";

    private PythonWheel(string version, byte[] bytes)
    {
        Version = version;
        Bytes = bytes;
    }

    public string Version { get; }

    public string FileName => $"liftoff-{Version}-py3-none-any.whl";

    public byte[] Bytes { get; }

    public static PythonWheel Build()
    {
        var assembly = typeof(PythonWheel).Assembly;
        var files = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (Path: n[ResourcePrefix.Length..], Content: Read(assembly, n)))
            .ToList();
        var version = files.Select(f => VersionPattern().Match(Encoding.UTF8.GetString(f.Content))).FirstOrDefault(m => m.Success)?.Groups[1].Value
            ?? throw new InvalidOperationException("the embedded liftoff package declares no __version__");
        var distInfo = $"liftoff-{version}.dist-info";
        files.Add(($"{distInfo}/METADATA", Encoding.UTF8.GetBytes(
            $"Metadata-Version: 2.1\nName: liftoff\nVersion: {version}\nSummary: Liftoff SDK: track runs and launch jobs\nRequires-Python: >=3.9\n")));
        files.Add(($"{distInfo}/WHEEL", Encoding.UTF8.GetBytes(
            "Wheel-Version: 1.0\nGenerator: liftoff-server\nRoot-Is-Purelib: true\nTag: py3-none-any\n")));
        var record = new StringBuilder();
        foreach (var (path, content) in files)
        {
            var digest = Convert.ToBase64String(SHA256.HashData(content)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            record.Append(System.Globalization.CultureInfo.InvariantCulture, $"{path},sha256={digest},{content.Length}\n");
        }

        record.Append(System.Globalization.CultureInfo.InvariantCulture, $"{distInfo}/RECORD,,\n");
        files.Add(($"{distInfo}/RECORD", Encoding.UTF8.GetBytes(record.ToString())));

        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (path, content) in files)
            {
                using var entry = zip.CreateEntry(path, CompressionLevel.Optimal).Open();
                entry.Write(content);
            }
        }

        return new PythonWheel(version, buffer.ToArray());
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [GeneratedRegex("""^__version__\s*=\s*["']([^"']+)["']""", RegexOptions.Multiline)]
    private static partial Regex VersionPattern();
}
