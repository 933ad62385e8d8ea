using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class DeleteQueueCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The queue." };
    private static readonly Option<bool> ForceOption = new("--force") { Description = "Delete even with active items (they are cancelled)." };

    public DeleteQueueCommand() : base("delete", "Delete a queue; refused while items are active unless --force.")
    {
        Arguments.Add(NameArgument);
        Options.Add(ForceOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var name = parseResult.GetValue(NameArgument)!;
        await client.DeleteQueueAsync(name, parseResult.GetValue(ForceOption), cancellationToken);
        await Console.Error.WriteLineAsync($"Deleted queue {name}.");
        return ExitCodes.Success;
    }
}
