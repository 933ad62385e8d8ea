using System.CommandLine;
using Liftoff.Cli;
using Liftoff.Cli.Commands;

var parseResult = LiftoffCommandLine.Build().Parse(args);
for (var command = parseResult.CommandResult; command is not null; command = command.Parent as System.CommandLine.Parsing.CommandResult)
{
    if (command.Command is HandOffCommand)
    {
        return ManagedCli.Exec(args);
    }
}

// Commands handle SIGINT/SIGTERM themselves (BaseCommand, TerminationSignals), as in the managed build.
return await parseResult.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
