using System.Text.RegularExpressions;

namespace Liftoff.Core.Jobs;

/// <summary>
/// Git remotes as a job records them: never with the credentials a user may have typed into the URL, and only ones
/// that name a repository on another machine.
/// </summary>
public static partial class GitRemotes
{
    /// <summary>What a job's remote may be, for the refusals that name it.</summary>
    public const string Rule = "a git remote is an https://, http:// or ssh:// URL, or user@host:path; "
        + "local paths, file://, and transports that run commands (ext::, fd::) are refused: they would clone from the agent's own machine";

    /// <summary>
    /// Why <paramref name="remote"/> may not be cloned by an agent for a job, or null when it may. A job is written by a
    /// queue member and cloned on an agent's host: a local path or <c>file://</c> would copy that host's repositories
    /// into the run (and into built images), and <c>ext::</c>, <c>fd::</c> or an ssh host beginning with <c>-</c>
    /// (read by ssh as an option such as <c>-oProxyCommand=</c>) run commands there.
    /// </summary>
    public static string? Problem(string? remote)
    {
        if (string.IsNullOrEmpty(remote) || remote.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) || remote.StartsWith('-'))
        {
            return Rule;
        }

        if (remote.StartsWith("https://", StringComparison.Ordinal) || remote.StartsWith("http://", StringComparison.Ordinal)
            || remote.StartsWith("ssh://", StringComparison.Ordinal))
        {
            var authority = remote[(remote.IndexOf("://", StringComparison.Ordinal) + 3)..];
            var end = authority.IndexOfAny(['/', '?', '#']);
            authority = end < 0 ? authority : authority[..end];
            var at = authority.LastIndexOf('@');
            var user = at < 0 ? "" : authority[..at];
            var hostPort = authority[(at + 1)..];
            return !user.StartsWith('-') && UrlHost().IsMatch(hostPort) && Uri.TryCreate(remote, UriKind.Absolute, out _) ? null : Rule;
        }

        return ScpLike().IsMatch(remote) ? null : Rule;
    }

    /// <summary>
    /// The remote without <c>user:token@</c> (or <c>token@</c>) in an http(s), ssh or git URL. The SSH user of
    /// scp-like remotes (<c>git@host:org/repo.git</c>) and of ssh URLs is kept: it names an account, not a secret.
    /// </summary>
    public static string StripCredentials(string remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (!Uri.TryCreate(remote, UriKind.Absolute, out var uri) || uri.Scheme == Uri.UriSchemeFile || uri.UserInfo.Length == 0)
        {
            return remote;
        }

        if (uri.Scheme == "ssh" && !uri.UserInfo.Contains(':', StringComparison.Ordinal))
        {
            return remote;
        }

        var builder = new UriBuilder(uri) { UserName = "", Password = "" };
        return builder.Uri.GetComponents(UriComponents.AbsoluteUri, UriFormat.UriEscaped);
    }

    /// <summary>True when <paramref name="remote"/> carries a password or token.</summary>
    public static bool HasCredentials(string remote) => !string.Equals(StripCredentials(remote), remote, StringComparison.Ordinal);

    /// <summary>A full commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.</summary>
    public static bool IsCommit(string? value) =>
        value is { Length: 40 or 64 } && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>A DNS name or IP literal (never beginning with <c>-</c>), then an optional port.</summary>
    [GeneratedRegex(@"^([A-Za-z0-9_][A-Za-z0-9_.-]*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")]
    private static partial Regex UrlHost();

    /// <summary>
    /// <c>user@host:path</c>, as ssh reads it: the user and host never begin with <c>-</c>, and a path beginning with
    /// <c>:</c> is refused because <c>name::address</c> is git's syntax for a remote helper.
    /// </summary>
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.+~-]*@([A-Za-z0-9_][A-Za-z0-9_.-]*|\[[0-9A-Fa-f:.]+\]):[^:]")]
    private static partial Regex ScpLike();
}
