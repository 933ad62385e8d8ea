using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class ResumeQueueCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The queue." };

    public ResumeQueueCommand() : base("resume", "Resume a paused queue: agents claim from it again (team admins).")
    {
        Arguments.Add(NameArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var queue = await client.PauseQueueAsync(parseResult.GetValue(NameArgument)!, paused: false, cancellationToken);
        await Console.Error.WriteLineAsync($"Resumed queue {queue.Name}: {queue.Depth} pending item(s), {queue.Agents.Count} agent(s) polling.");
        return ExitCodes.Success;
    }
}
