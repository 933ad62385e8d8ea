using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class AddMemberTeamCommand : BaseCommand
{
    private static readonly Argument<string> TeamArgument = TeamArguments.Team();
    private static readonly Argument<string> UserArgument = TeamArguments.User();
    private static readonly Option<string> RoleOption = TeamArguments.Role("member");

    public AddMemberTeamCommand() : base("add-member", "Add a user to a team with a role (team admins).")
    {
        Arguments.Add(TeamArgument);
        Arguments.Add(UserArgument);
        Options.Add(RoleOption);
        Options.Add(JsonOption);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken) =>
        TeamArguments.SetRoleAsync(Connect, parseResult, TeamArgument, UserArgument, RoleOption, "Added", cancellationToken);
}
