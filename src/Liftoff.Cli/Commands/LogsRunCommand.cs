using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class LogsRunCommand : BaseCommand
{
    private static readonly Argument<string> RunArgument = new("run") { Description = "The run id." };
    private static readonly Option<bool> FollowOption = new("--follow", "-f") { Description = "Keep printing new lines until the run ends." };

    public LogsRunCommand() : base("logs", "Print a run's console output (stdout and stderr).")
    {
        Arguments.Add(RunArgument);
        Options.Add(FollowOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        await foreach (var line in client.ReadLogsAsync(parseResult.GetValue(RunArgument)!, parseResult.GetValue(FollowOption), cancellationToken))
        {
            Console.Out.WriteLine(line.Text);
        }

        return ExitCodes.Success;
    }
}
