using System.CommandLine;

namespace Liftoff.Cli.Commands;

/// <summary>The commands that host the server or run workloads: in this (managed) build, the commands themselves.</summary>
internal static class HostedCommands
{
    public static Command Up() => new UpCommand();

    public static Command Server() => new ServerCommand();

    public static Command Agent() => new AgentCommand();

    public static Command JobBuild() => new BuildJobCommand();

    public static Command AdminRestore() => new RestoreAdminCommand();
}
