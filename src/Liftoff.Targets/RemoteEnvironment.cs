namespace Liftoff.Targets;

/// <summary>The variables a job running off the agent's machine gets: the run's, and where it reaches the server.</summary>
internal static class RemoteEnvironment
{
    public static Dictionary<string, string> For(LaunchContext context)
    {
        var environment = new Dictionary<string, string>(context.Spec.Environment, StringComparer.Ordinal)
        {
            ["LIFTOFF_BASE_URL"] = context.Client.Settings.BaseUrl.ToString().TrimEnd('/'),
            ["LIFTOFF_CONSOLE"] = "off",
            ["PYTHONUNBUFFERED"] = "1",
        };
        environment["WANDB_BASE_URL"] = environment["LIFTOFF_BASE_URL"];
        return environment;
    }
}
