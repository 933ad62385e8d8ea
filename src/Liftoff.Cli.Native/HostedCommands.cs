using System.CommandLine;

namespace Liftoff.Cli.Commands;

/// <summary>
/// The commands that host ASP.NET Core or run workloads, which Native AOT cannot compile: listed in help with the
/// managed build's words, and run by <see cref="ManagedCli"/> whenever one of them is what the command line names.
/// </summary>
internal static class HostedCommands
{
    public static Command Up() => new HandOffCommand("up", HostedCommandText.Up);

    public static Command Server() => new HandOffCommand("server", HostedCommandText.Server);

    /// <summary><c>agent list</c> only asks the server, so it stays here; <c>agent</c> itself runs workloads.</summary>
    public static Command Agent() => new HandOffCommand("agent", HostedCommandText.Agent) { new ListAgentsCommand() };

    public static Command JobBuild() => new HandOffCommand("build", HostedCommandText.JobBuild);

    /// <summary>Restore opens the SQLite snapshot to check it, which the managed build does.</summary>
    public static Command AdminRestore() => new HandOffCommand("restore", HostedCommandText.AdminRestore);
}

/// <summary>A command the managed program runs; its options and subcommands are that program's to parse.</summary>
internal sealed class HandOffCommand : Command
{
    public HandOffCommand(string name, string description) : base(name, description)
    {
        TreatUnmatchedTokensAsErrors = false;
    }
}
