using System.CommandLine;
using Liftoff.Cli;

// Commands handle SIGINT/SIGTERM themselves (BaseCommand, TerminationSignals): System.CommandLine's own handling would
// end the process two seconds after the first signal, cutting an agent's drain short.
return await LiftoffCommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
