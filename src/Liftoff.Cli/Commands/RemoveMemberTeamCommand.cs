using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class RemoveMemberTeamCommand : BaseCommand
{
    private static readonly Argument<string> TeamArgument = TeamArguments.Team();
    private static readonly Argument<string> UserArgument = TeamArguments.User();

    public RemoveMemberTeamCommand() : base("remove-member", "Remove a user from a team (team admins); the last admin stays.")
    {
        Arguments.Add(TeamArgument);
        Arguments.Add(UserArgument);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var (team, user) = (parseResult.GetValue(TeamArgument)!, parseResult.GetValue(UserArgument)!);
        await client.RemoveTeamMemberAsync(team, user, cancellationToken);
        await Console.Error.WriteLineAsync($"Removed {user} from team {team}.");
        return ExitCodes.Success;
    }
}
