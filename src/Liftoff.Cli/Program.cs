using Liftoff.Cli;

return await LiftoffCommandLine.Build().Parse(args).InvokeAsync();
