namespace Liftoff.Core.Jobs;

/// <summary>Git remotes as a job records them: never with the credentials a user may have typed into the URL.</summary>
public static class GitRemotes
{
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
}
