namespace Liftoff.Cli.Commands;

/// <summary>
/// What help says about the commands that host ASP.NET Core or run workloads. The native client lists them with the
/// same words and hands them to the managed program, so both builds' help reads the same.
/// </summary>
internal static class HostedCommandText
{
    public const string Up = "Start Liftoff on this machine (server + embedded database) and configure the CLI and SDKs to use it.";

    public const string Server = "Run the Liftoff server (API, store) in the foreground.";

    public const string Agent = "Run an agent: claim items from queues and run them on this machine.";

    public const string AdminRestore = "Restore a backup into a new data directory (and an empty PostgreSQL schema), with no server running on it. See docs/backup.md.";

    public const string JobBuild = "Build a job's image as an agent would, without launching it.";
}
