using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class DeleteServiceAccountCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = ServiceAccountArguments.Name();
    private static readonly Option<string> TeamOption = ServiceAccountArguments.Team();

    public DeleteServiceAccountCommand() : base("delete", "Delete a team's service account and revoke its keys at once (team admins); its name is not reused.")
    {
        Arguments.Add(NameArgument);
        Options.Add(TeamOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var (team, name) = (parseResult.GetValue(TeamOption)!, parseResult.GetValue(NameArgument)!);
        await client.DeleteServiceAccountAsync(team, name, cancellationToken);
        await Console.Error.WriteLineAsync($"Deleted service account {name} of team {team}; its keys are revoked.");
        return ExitCodes.Success;
    }
}
