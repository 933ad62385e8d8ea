namespace Liftoff.Targets;

/// <summary>The variables a job running off the agent's machine gets: the run's, and where it reaches the server.</summary>
internal static class RemoteEnvironment
{
    /// <summary>What <c>--dry-run</c> shows for the server's URL, which only the agent knows.</summary>
    public const string ServerUrlPlaceholder = "<server URL as the agent reaches it>";

    public static Dictionary<string, string> For(LaunchContext context)
    {
        var environment = new Dictionary<string, string>(context.Spec.Environment, StringComparer.Ordinal);
        foreach (var (name, value) in Added(context.Client.Settings.BaseUrl.ToString().TrimEnd('/')))
        {
            environment[name] = value;
        }

        return environment;
    }

    /// <summary>What the agent sets after the run's own variables, for a job that reaches the server at <paramref name="baseUrl"/>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Added(string baseUrl) =>
    [
        new("LIFTOFF_BASE_URL", baseUrl),
        new("WANDB_BASE_URL", baseUrl),
        new("LIFTOFF_CONSOLE", "off"),
        new("PYTHONUNBUFFERED", "1"),
    ];
}
