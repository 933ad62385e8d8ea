using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Jobs;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// Puts a job's code into an item's work directory. Code artifacts are downloaded once per content digest into the
/// cache and copied per item (a job may write into its directory; items must not see each other's files). Git jobs
/// clone from a per-remote mirror in the cache that is fetched only when it lacks the recorded commit.
/// </summary>
internal sealed class CodeFetcher(CacheRoot root, AgentOptions options, CacheLock locks, TimeProvider time)
{
    /// <summary>Fetches the code into <c>{workDirectory}/code</c>; returns the directory the entrypoint runs in.</summary>
    public async Task<string> FetchAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var target = Path.Combine(context.WorkDirectory, "code");
        var source = context.Job.Source ?? throw new LaunchException(ItemPhases.Pull, "the job definition has no source");
        switch (context.Job.SourceType)
        {
            case JobSourceTypes.Artifact:
                await FetchArtifactAsync(context, source, target, cancellationToken);
                return target;
            case JobSourceTypes.Repo:
                await CloneAsync(source, target, context.Console, cancellationToken);
                return String(source, "subdir") is { Length: > 0 } subdir ? InsideOrThrow(target, subdir) : target;
            case JobSourceTypes.Image:
                throw new LaunchException(ItemPhases.Submit, "an image job cannot run on a local-process queue: put it on a docker or kubernetes queue");
            default:
                throw new LaunchException(ItemPhases.Pull, $"unknown job source type '{context.Job.SourceType}'");
        }
    }

    private async Task FetchArtifactAsync(LaunchContext context, JsonElement source, string target, CancellationToken cancellationToken)
    {
        var reference = String(source, "artifact") ?? throw new LaunchException(ItemPhases.Pull, "the job's source names no code artifact");
        var colon = reference.LastIndexOf(':');
        var (name, version) = colon < 0 ? (reference, "latest") : (reference[..colon], reference[(colon + 1)..]);
        var project = JobProject(context.Spec);
        var cached = String(source, "digest") is { Length: > 0 } digest ? Path.Combine(root.Directory, "code", Safe(digest)) : null;
        if (cached is null || !Directory.Exists(cached))
        {
            ArtifactVersionInfo artifact;
            try
            {
                artifact = await context.Client.GetArtifactVersionAsync(project, name, version, cancellationToken);
            }
            catch (LiftoffException ex)
            {
                throw new LaunchException(ItemPhases.Pull, $"could not find the job's code artifact {project}/{name}:{version}: {ex.Message}", ex);
            }

            cached = Path.Combine(root.Directory, "code", Safe(artifact.Digest));
            if (!Directory.Exists(cached))
            {
                var temp = cached + ".tmp-" + Guid.NewGuid().ToString("N");
                try
                {
                    await context.Client.DownloadArtifactAsync(artifact, temp, cancellationToken: cancellationToken);
                    try
                    {
                        Directory.Move(temp, cached);
                    }
                    catch (IOException) when (Directory.Exists(cached))
                    {
                        // Another item fetched the same content meanwhile; identical by digest.
                    }
                }
                catch (LiftoffException ex)
                {
                    throw new LaunchException(ItemPhases.Pull, $"could not download the job's code artifact {project}/{name}:{version}: {ex.Message}", ex);
                }
                finally
                {
                    if (Directory.Exists(temp))
                    {
                        Directory.Delete(temp, recursive: true);
                    }
                }
            }
        }

        Copy(cached, target);
    }

    private async Task CloneAsync(JsonElement source, string target, RunConsole console, CancellationToken cancellationToken)
    {
        var remote = String(source, "remote") ?? throw new LaunchException(ItemPhases.Pull, "the job's source names no git remote");
        var commit = String(source, "commit") ?? throw new LaunchException(ItemPhases.Pull, "the job's source names no commit");
        if (!options.AllowLocalGitRemotes && GitRemotes.Problem(remote) is { } problem)
        {
            // The server refuses these at job creation; a job stored before it did must not reach this host's files either.
            throw new LaunchException(ItemPhases.Pull, $"this agent refuses the job's git remote '{remote}': {problem} (an agent clones them only with allow_local_git_remotes: true in its config)");
        }

        var mirror = Path.Combine(root.Directory, "git", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(remote)))[..24] + ".git");
        await using (await locks.AcquireAsync(mirror, time, cancellationToken))
        {
            if (!Directory.Exists(mirror))
            {
                await GitAsync([.. RemoteProtocols(), "clone", "--quiet", "--mirror", "--", remote, mirror], console, $"could not clone {remote}", cancellationToken, RemoteEnvironment);
            }
            else if ((await Tool.RunAsync(ItemPhases.Pull, "git", ["-C", mirror, "cat-file", "-e", commit + "^{commit}"], null, null, cancellationToken)).ExitCode != 0)
            {
                await GitAsync([.. RemoteProtocols(), "-C", mirror, "fetch", "--quiet", "--prune", "origin"], console, $"could not fetch {remote}", cancellationToken, RemoteEnvironment);
            }
        }

        await GitAsync(["clone", "--quiet", "--shared", "--no-checkout", "--", mirror, target], console, $"could not clone {remote}", cancellationToken);
        await GitAsync(["-C", target, "checkout", "--quiet", "--detach", commit], console, $"commit {commit} is not in {remote} (was it force-pushed away?)", cancellationToken);
    }

    /// <summary>
    /// git's own transport policy for talking to a job's remote, behind the check above: only the network transports
    /// (and <c>file</c> when this agent allows local remotes), so a helper such as <c>ext::</c> or <c>fd::</c> never runs
    /// whatever the remote's spelling. The later clone from the local mirror runs without it.
    /// </summary>
    private string[] RemoteProtocols() =>
    [
        "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always", "-c", "protocol.ssh.allow=always",
        .. options.AllowLocalGitRemotes ? (string[])["-c", "protocol.file.allow=always"] : [],
    ];

    /// <summary>Transports whose policy is "user" are refused too, for the git commands that talk to a job's remote.</summary>
    private static readonly Dictionary<string, string?> RemoteEnvironment = new() { ["GIT_TERMINAL_PROMPT"] = "0", ["GIT_PROTOCOL_FROM_USER"] = "0" };

    private static readonly Dictionary<string, string?> LocalEnvironment = new() { ["GIT_TERMINAL_PROMPT"] = "0" };

    private static async Task GitAsync(string[] args, RunConsole console, string failure, CancellationToken cancellationToken, Dictionary<string, string?>? environment = null)
    {
        var result = await Tool.RunAsync(ItemPhases.Pull, "git", args, null, null, cancellationToken, environment ?? LocalEnvironment);
        if (result.ExitCode != 0)
        {
            await console.WriteAsync("stderr", result.Output.TrimEnd(), cancellationToken);
            throw new LaunchException(ItemPhases.Pull, $"{failure} (git exit {result.ExitCode}):\n{result.Tail()}");
        }
    }

    /// <summary>The project the job (and so its code artifact) lives in: <c>project/name:vK</c> names it, else the launch's.</summary>
    private static string JobProject(LaunchSpec spec)
    {
        var slash = spec.Job.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? spec.Job[..slash] : spec.Project;
    }

    private static string InsideOrThrow(string root, string relative)
    {
        var full = Path.GetFullPath(Path.Combine(root, relative));
        if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !Directory.Exists(full))
        {
            throw new LaunchException(ItemPhases.Pull, $"the job's subdir '{relative}' is not a directory of the repository at that commit");
        }

        return full;
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        }

        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }

    private static string Safe(string digest) => string.Concat(digest.Where(char.IsAsciiLetterOrDigit));

    private static string? String(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Object && value.TryGetProperty(name, out var property) && property.ValueKind == JsonValueKind.String ? property.GetString() : null;
}
