using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class ListKeysCommand : BaseCommand
{
    public ListKeysCommand() : base("list", "List your API keys (never their secrets).")
    {
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        KeyArguments.PrintList(parseResult, await client.ListKeysAsync(cancellationToken));
        return ExitCodes.Success;
    }
}
