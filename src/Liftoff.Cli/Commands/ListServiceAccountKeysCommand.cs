using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class ListServiceAccountKeysCommand : BaseCommand
{
    private static readonly Argument<string> AccountArgument = ServiceAccountArguments.Name();
    private static readonly Option<string> TeamOption = ServiceAccountArguments.Team();

    public ListServiceAccountKeysCommand() : base("list", "List a service account's keys, never their secrets (team admins).")
    {
        Arguments.Add(AccountArgument);
        Options.Add(TeamOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        KeyArguments.PrintList(parseResult, await client.ListServiceAccountKeysAsync(parseResult.GetValue(TeamOption)!, parseResult.GetValue(AccountArgument)!, cancellationToken));
        return ExitCodes.Success;
    }
}
