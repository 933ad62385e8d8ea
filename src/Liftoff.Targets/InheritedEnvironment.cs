namespace Liftoff.Targets;

/// <summary>
/// What a job takes from the agent's own environment: a short allowlist (where to find programs, the home folder, the
/// user, the locale, the time zone, the temporary folder), the same for every target. Everything else the agent holds
/// (its key, cloud credentials, a registry password, whatever its operator exported) stays with the agent: a job is
/// code from any queue member. local-process and slurm, whose jobs run as the agent's user on its machine or cluster,
/// take these names from the agent; docker, kubernetes, sagemaker and vertex take none, since the image sets its own.
/// Beyond them a job gets only its documented variables: the queue's <c>env</c>, the launch's, and Liftoff's.
/// </summary>
internal static class InheritedEnvironment
{
    public static readonly IReadOnlyList<string> Names = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"];

    /// <summary>The locale categories (<c>LC_ALL</c>, <c>LC_CTYPE</c>, …).</summary>
    public const string LocalePrefix = "LC_";

    public static bool Allows(string name) => Names.Contains(name) || (name.StartsWith(LocalePrefix, StringComparison.Ordinal) && name.Length > LocalePrefix.Length);

    /// <summary>The allowed variables the agent's process has.</summary>
    public static Dictionary<string, string> FromAgent()
    {
        var inherited = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && Allows(name) && entry.Value is string value)
            {
                inherited[name] = value;
            }
        }

        return inherited;
    }
}
