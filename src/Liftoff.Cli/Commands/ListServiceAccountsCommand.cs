using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListServiceAccountsCommand : BaseCommand
{
    private static readonly Option<string> TeamOption = ServiceAccountArguments.Team();

    public ListServiceAccountsCommand() : base("list", "List a team's service accounts (team admins).")
    {
        Options.Add(TeamOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var accounts = await client.ListServiceAccountsAsync(parseResult.GetValue(TeamOption)!, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(accounts, LiftoffJsonContext.Default.ServiceAccountList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("NAME", "ROLE", "ACTOR", "CREATED");
        foreach (var account in accounts.ServiceAccounts)
        {
            table.AddRow(Markup.Escape(account.Name), account.Role, Markup.Escape(account.Actor), Output.Time(account.CreatedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
