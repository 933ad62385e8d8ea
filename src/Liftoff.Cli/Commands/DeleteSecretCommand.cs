using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class DeleteSecretCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The secret's name." };

    public DeleteSecretCommand() : base("delete", "Delete a secret; launches that reference it are refused from now on.")
    {
        Arguments.Add(NameArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var name = parseResult.GetValue(NameArgument)!;
        await client.DeleteSecretAsync(name, cancellationToken);
        await Console.Error.WriteLineAsync($"Deleted secret {name}.");
        return ExitCodes.Success;
    }
}
