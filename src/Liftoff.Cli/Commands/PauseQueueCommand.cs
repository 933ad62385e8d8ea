using System.CommandLine;

namespace Liftoff.Cli.Commands;

/// <summary><c>queue pause</c>, or with <c>resume</c> true <c>queue resume</c>: the one switch, both ways.</summary>
internal sealed class PauseQueueCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The queue." };

    private readonly bool _resume;

    public PauseQueueCommand(bool resume = false) : base(resume ? "resume" : "pause", resume
        ? "Resume a paused queue: agents claim from it again (team admins)."
        : "Pause a queue: agents claim nothing from it; its pending items stay and it still takes launches (team admins).")
    {
        _resume = resume;
        Arguments.Add(NameArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var queue = await client.PauseQueueAsync(parseResult.GetValue(NameArgument)!, paused: !_resume, cancellationToken);
        await Console.Error.WriteLineAsync(_resume
            ? $"Resumed queue {queue.Name}: {queue.Depth} pending item(s), {queue.Agents.Count} agent(s) polling."
            : $"Paused queue {queue.Name}: {queue.Depth} pending item(s) wait until 'liftoff queue resume {queue.Name}'.");
        return ExitCodes.Success;
    }
}
