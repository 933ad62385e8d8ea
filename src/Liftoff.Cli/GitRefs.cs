using System.Diagnostics;
using System.Text;
using Liftoff.Client;
using Liftoff.Core.Jobs;

namespace Liftoff.Cli;

/// <summary>
/// Resolves a branch, tag or HEAD of a remote to a commit with the real <c>git ls-remote</c>. Credentials (a token
/// given by the user, or typed into the URL) reach git only as an HTTP header through its environment, never on its
/// command line, in a URL that is stored, or in a message.
/// </summary>
internal static class GitRefs
{
    public static async Task<string> ResolveAsync(string remote, string? reference, string? token, CancellationToken cancellationToken)
    {
        var shown = GitRemotes.StripCredentials(remote);
        if (reference is not null && GitRemotes.IsCommit(reference))
        {
            return reference;
        }

        var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "ls-remote", "--", shown })
        {
            info.ArgumentList.Add(arg);
        }

        // Never wait for a password prompt: a private repository without credentials is an error to report.
        info.Environment["GIT_TERMINAL_PROMPT"] = "0";
        info.Environment["GIT_ASKPASS"] = "";
        if (Authorization(remote, token) is { } header)
        {
            var count = int.TryParse(Environment.GetEnvironmentVariable("GIT_CONFIG_COUNT"), out var existing) ? existing : 0;
            info.Environment["GIT_CONFIG_COUNT"] = (count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            info.Environment[$"GIT_CONFIG_KEY_{count}"] = "http.extraHeader";
            info.Environment[$"GIT_CONFIG_VALUE_{count}"] = header;
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new LiftoffException($"git is needed to resolve '{reference ?? "HEAD"}' of {shown}, but it could not be started ({ex.Message}); install git");
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                var reason = Redact((await stderr).Trim(), remote, token);
                throw new LiftoffException($"git ls-remote {shown} failed: {reason}");
            }

            var refs = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('\t'))
                .Where(parts => parts.Length == 2)
                .ToDictionary(parts => parts[1].Trim(), parts => parts[0].Trim(), StringComparer.Ordinal);
            var wanted = reference ?? "HEAD";
            foreach (var candidate in new[] { wanted, $"refs/heads/{wanted}", $"refs/tags/{wanted}^{{}}", $"refs/tags/{wanted}" })
            {
                if (refs.TryGetValue(candidate, out var commit) && GitRemotes.IsCommit(commit))
                {
                    return commit;
                }
            }

            throw new LiftoffException(reference is null
                ? $"{shown} has no HEAD to resolve; give --ref BRANCH, TAG or a full commit id"
                : $"'{reference}' is not a branch or tag of {shown}; give --ref BRANCH, TAG or a full 40-character commit id");
        }
    }

    /// <summary>Basic auth from --git-token (or the token typed into the URL), as GitHub, GitLab and git http-backend accept it.</summary>
    private static string? Authorization(string remote, string? token)
    {
        string? user = null;
        if (Uri.TryCreate(remote, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            token ??= parts.Length == 2 ? Uri.UnescapeDataString(parts[1]) : null;
        }

        return token is null ? null : "Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{(string.IsNullOrEmpty(user) ? "x-access-token" : user)}:{token}"));
    }

    private static string Redact(string text, string remote, string? token)
    {
        text = text.Replace(remote, GitRemotes.StripCredentials(remote), StringComparison.Ordinal);
        return token is { Length: > 0 } ? text.Replace(token, "***", StringComparison.Ordinal) : text;
    }
}
