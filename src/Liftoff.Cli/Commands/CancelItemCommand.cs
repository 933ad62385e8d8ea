using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class CancelItemCommand : BaseCommand
{
    private static readonly Argument<string> ItemArgument = new("item") { Description = "The launch item id." };

    public CancelItemCommand() : base("cancel", "Cancel a launch item: pending ones at once, running ones through their agent.")
    {
        Arguments.Add(ItemArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var item = await client.CancelItemAsync(parseResult.GetValue(ItemArgument)!, cancellationToken);
        await Console.Error.WriteLineAsync(item.State == Contracts.ItemStates.Stopping
            ? $"Item {item.Id} is stopping; its agent stops the workload at its next heartbeat."
            : $"Item {item.Id} is {item.State}.");
        return ExitCodes.Success;
    }
}
