using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class RevokeKeyCommand : BaseCommand
{
    private static readonly Argument<string> KeyArgument = new("id") { Description = "The key id (from 'liftoff keys list')." };

    public RevokeKeyCommand() : base("revoke", "Revoke an API key; it stops working at once.")
    {
        Arguments.Add(KeyArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var id = parseResult.GetValue(KeyArgument)!;
        await client.RevokeKeyAsync(id, cancellationToken);
        await Console.Error.WriteLineAsync($"Revoked key {id}.");
        return ExitCodes.Success;
    }
}
