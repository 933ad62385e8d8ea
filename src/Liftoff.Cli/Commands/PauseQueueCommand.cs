using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class PauseQueueCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The queue." };

    public PauseQueueCommand() : base("pause", "Pause a queue: agents claim nothing from it; its pending items stay and it still takes launches (team admins).")
    {
        Arguments.Add(NameArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var queue = await client.PauseQueueAsync(parseResult.GetValue(NameArgument)!, paused: true, cancellationToken);
        await Console.Error.WriteLineAsync($"Paused queue {queue.Name}: {queue.Depth} pending item(s) wait until 'liftoff queue resume {queue.Name}'.");
        return ExitCodes.Success;
    }
}
