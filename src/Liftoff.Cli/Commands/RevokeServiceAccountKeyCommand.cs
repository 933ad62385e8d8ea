using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class RevokeServiceAccountKeyCommand : BaseCommand
{
    private static readonly Argument<string> AccountArgument = ServiceAccountArguments.Name();
    private static readonly Argument<string> KeyArgument = new("id") { Description = "The key id (from 'liftoff service-account key list')." };
    private static readonly Option<string> TeamOption = ServiceAccountArguments.Team();

    public RevokeServiceAccountKeyCommand() : base("revoke", "Revoke a service account's key (team admins); it stops working at once.")
    {
        Arguments.Add(AccountArgument);
        Arguments.Add(KeyArgument);
        Options.Add(TeamOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var (team, account, id) = (parseResult.GetValue(TeamOption)!, parseResult.GetValue(AccountArgument)!, parseResult.GetValue(KeyArgument)!);
        await client.RevokeServiceAccountKeyAsync(team, account, id, cancellationToken);
        await Console.Error.WriteLineAsync($"Revoked key {id} of service account {account} (team {team}).");
        return ExitCodes.Success;
    }
}
