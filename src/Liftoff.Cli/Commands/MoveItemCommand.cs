using System.CommandLine;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

internal sealed class MoveItemCommand : BaseCommand
{
    private static readonly Argument<string> ItemArgument = new("item") { Description = "The pending launch item to move." };
    private static readonly Option<bool> TopOption = new("--top") { Description = "To the head of its priority level." };
    private static readonly Option<bool> BottomOption = new("--bottom") { Description = "To the end of its priority level." };
    private static readonly Option<string> BeforeOption = new("--before") { Description = "Just before this pending item (taking its priority)." };
    private static readonly Option<string> AfterOption = new("--after") { Description = "Just after this pending item (taking its priority)." };
    private static readonly Option<string> PriorityOption = new("--priority") { Description = "A new priority: critical, high, medium or low." };
    private static readonly Option<string> ToQueueOption = new("--to-queue") { Description = "Another queue of the same resource." };

    public MoveItemCommand() : base("move", "Move a pending item in line: --top, --bottom, --before ITEM, --after ITEM, --priority P, --to-queue Q (members their own items, admins anyone's).")
    {
        Arguments.Add(ItemArgument);
        Options.Add(TopOption);
        Options.Add(BottomOption);
        Options.Add(BeforeOption);
        Options.Add(AfterOption);
        Options.Add(PriorityOption);
        Options.Add(ToQueueOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var (top, bottom) = (parseResult.GetValue(TopOption), parseResult.GetValue(BottomOption));
        if (top && bottom)
        {
            await Console.Error.WriteLineAsync("--top and --bottom: choose one.");
            return ExitCodes.Usage;
        }

        using var client = Connect();
        var item = await client.MoveItemAsync(parseResult.GetValue(ItemArgument)!, new MoveItemRequest(
            top ? MoveTargets.Top : bottom ? MoveTargets.Bottom : null, parseResult.GetValue(BeforeOption), parseResult.GetValue(AfterOption),
            parseResult.GetValue(PriorityOption), parseResult.GetValue(ToQueueOption)), cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(item, LiftoffJsonContext.Default.ItemInfo);
            return ExitCodes.Success;
        }

        await Console.Error.WriteLineAsync($"Moved item {item.Id} ({item.Priority} priority on {item.Queue}){(item.Place is { } place ? $": {place.Message}" : "")}.");
        return ExitCodes.Success;
    }
}
