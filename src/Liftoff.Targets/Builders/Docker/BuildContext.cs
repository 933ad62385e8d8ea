using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Liftoff.Contracts;

namespace Liftoff.Targets.Builders.Docker;

/// <summary>
/// Everything an image build reads: the Dockerfile (the job's own, or one generated from the base image, the
/// requirements, the SDK and the entrypoint) and the files of the build context. <see cref="Hash"/> covers all of it,
/// so an unchanged job maps to the same tag and a changed requirements.txt or code file to a new one.
/// </summary>
internal sealed class BuildContext
{
    /// <summary>Where the SDK and the requirements go in the image; the code goes to <c>/opt/liftoff/code</c>.</summary>
    private const string Root = "/opt/liftoff";

    /// <summary>Bumped when the generated Dockerfile's shape changes, so images made by an older agent are not reused.</summary>
    private const string Version = "liftoff-build-2";

    private readonly List<(string TarPath, string? File, byte[]? Content)> _entries;

    private BuildContext(List<(string, string?, byte[]?)> entries, string dockerfilePath, string dockerfile, string hash)
    {
        _entries = entries;
        DockerfilePath = dockerfilePath;
        Dockerfile = dockerfile;
        Hash = hash;
    }

    /// <summary>The Dockerfile's path inside the context.</summary>
    public string DockerfilePath { get; }

    public string Dockerfile { get; }

    /// <summary>Hex SHA-256 of every build input.</summary>
    public string Hash { get; }

    /// <summary>
    /// The context for <paramref name="job"/>'s code in <paramref name="codeDirectory"/>: with the job's own Dockerfile
    /// (its runtime's, or a <c>Dockerfile</c> at the code's root) the context is the code plus the SDK under
    /// <c>.liftoff/sdk</c>; otherwise a generated Dockerfile builds from <paramref name="baseImage"/>.
    /// </summary>
    public static BuildContext Create(JobDefinition job, string codeDirectory, string sdkDirectory, string baseImage)
    {
        var entries = new List<(string, string?, byte[]?)>();
        string dockerfilePath;
        string dockerfile;
        var ownDockerfile = job.Runtime?.Dockerfile is { Length: > 0 } given ? given
            : File.Exists(Path.Combine(codeDirectory, "Dockerfile")) ? File.ReadAllText(Path.Combine(codeDirectory, "Dockerfile")) : null;
        if (ownDockerfile is not null)
        {
            AddDirectory(entries, codeDirectory, "");
            AddDirectory(entries, sdkDirectory, ".liftoff/sdk/");
            dockerfilePath = ".liftoff/Dockerfile";
            dockerfile = ownDockerfile;
        }
        else
        {
            AddDirectory(entries, codeDirectory, "code/");
            AddDirectory(entries, sdkDirectory, "liftoff/sdk/");
            var requirements = job.Runtime?.Requirements is { Length: > 0 } r ? r
                : File.Exists(Path.Combine(codeDirectory, "requirements.txt")) ? File.ReadAllText(Path.Combine(codeDirectory, "requirements.txt")) : "";
            var hasRequirements = requirements.Split('\n').Any(line => line.Trim() is { Length: > 0 } l && !l.StartsWith('#'));
            if (hasRequirements)
            {
                entries.Add(("liftoff/requirements.txt", null, Encoding.UTF8.GetBytes(requirements)));
            }

            dockerfilePath = "liftoff/Dockerfile";
            dockerfile = Generate(baseImage, hasRequirements, job.Entrypoint ?? []);
        }

        entries.Add((dockerfilePath, null, Encoding.UTF8.GetBytes(dockerfile)));
        entries.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return new BuildContext(entries, dockerfilePath, dockerfile, HashOf(entries, baseImage));
    }

    /// <summary>Writes the context as the tar the engine's build endpoint reads.</summary>
    public async Task WriteTarAsync(Stream destination, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var (tarPath, file, content) in _entries)
        {
            if (file is not null)
            {
                await tar.WriteEntryAsync(file, tarPath, cancellationToken);
                continue;
            }

            var entry = new PaxTarEntry(TarEntryType.RegularFile, tarPath)
            {
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                DataStream = new MemoryStream(content!),
            };
            await tar.WriteEntryAsync(entry, cancellationToken);
        }
    }

    private static string Generate(string baseImage, bool hasRequirements, IReadOnlyList<string> entrypoint)
    {
        // The venv gives `python` (Debian-like bases have only python3) and keeps pip off the system Python (PEP 668);
        // without requirements it is made without pip, which takes a fraction of a second.
        var builder = new StringBuilder()
            .Append("FROM ").AppendLine(baseImage)
            .AppendLine($"ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH={Root}/sdk VIRTUAL_ENV={Root}/venv PATH={Root}/venv/bin:$PATH")
            .AppendLine($"COPY liftoff/sdk/ {Root}/sdk/");
        if (hasRequirements)
        {
            builder.AppendLine($"COPY liftoff/requirements.txt {Root}/requirements.txt")
                .AppendLine($"RUN python3 -m venv {Root}/venv && {Root}/venv/bin/pip install --no-cache-dir -r {Root}/requirements.txt");
        }
        else
        {
            builder.AppendLine($"RUN python3 -m venv --without-pip {Root}/venv");
        }

        builder.AppendLine($"WORKDIR {Root}/code")
            .AppendLine($"COPY code/ {Root}/code/");
        if (entrypoint.Count > 0)
        {
            builder.Append("CMD ").AppendLine(JsonSerializer.Serialize(entrypoint, LiftoffJsonContext.Default.IReadOnlyListString));
        }

        return builder.ToString();
    }

    private static void AddDirectory(List<(string, string?, byte[]?)> entries, string directory, string prefix)
    {
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(directory, file).Replace('\\', '/');
            if (relative == ".git" || relative.StartsWith(".git/", StringComparison.Ordinal) || relative.Contains("/__pycache__/", StringComparison.Ordinal) || relative.StartsWith("__pycache__/", StringComparison.Ordinal))
            {
                continue;
            }

            entries.Add((prefix + relative, file, null));
        }
    }

    private static string HashOf(List<(string TarPath, string? File, byte[]? Content)> entries, string baseImage)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{Version}\n{baseImage}\n"));
        foreach (var (tarPath, file, content) in entries)
        {
            var executable = file is not null && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0;
            var digest = file is not null ? HashFile(file) : SHA256.HashData(content!);
            hash.AppendData(Encoding.UTF8.GetBytes($"{tarPath}\0{(executable ? "x" : "-")}\0{Convert.ToHexStringLower(digest)}\n"));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static byte[] HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return SHA256.HashData(stream);
    }
}
