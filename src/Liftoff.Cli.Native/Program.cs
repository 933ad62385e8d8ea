using System.CommandLine;
using Liftoff.Cli;
using Liftoff.Cli.Commands;

// Only the command the line names decides: `agent list` is native, `agent` and `agent --help` are the managed agent's.
var parseResult = LiftoffCommandLine.Build().Parse(args);
if (parseResult.CommandResult.Command is HandOffCommand)
{
    return ManagedCli.Exec(args);
}

// Commands handle SIGINT/SIGTERM themselves (BaseCommand, TerminationSignals), as in the managed build.
return await parseResult.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
