using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class StopRunCommand : BaseCommand
{
    private static readonly Argument<string> RunArgument = new("run") { Description = "The run id." };

    public StopRunCommand() : base("stop", "Ask a run to stop; it ends as killed.")
    {
        Arguments.Add(RunArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var run = await client.StopRunAsync(parseResult.GetValue(RunArgument)!, cancellationToken);
        await Console.Error.WriteLineAsync(run.State == Contracts.RunStates.Running
            ? $"Asked run {run.Id} to stop; it ends as killed at its next heartbeat."
            : $"Run {run.Id} is {run.State}.");
        return ExitCodes.Success;
    }
}
