using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class SetRoleTeamCommand : BaseCommand
{
    private static readonly Argument<string> TeamArgument = TeamArguments.Team();
    private static readonly Argument<string> UserArgument = TeamArguments.User();
    private static readonly Option<string> RoleOption = TeamArguments.Role(null);

    public SetRoleTeamCommand() : base("set-role", "Change a member's role in a team (team admins); it takes effect at once.")
    {
        Arguments.Add(TeamArgument);
        Arguments.Add(UserArgument);
        Options.Add(RoleOption);
        Options.Add(JsonOption);
    }

    protected override Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken) =>
        TeamArguments.SetRoleAsync(Connect, parseResult, TeamArgument, UserArgument, RoleOption, "Set", cancellationToken);
}
