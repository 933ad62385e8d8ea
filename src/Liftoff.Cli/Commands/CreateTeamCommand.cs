using System.CommandLine;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

internal sealed class CreateTeamCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The team's name (an entity name, like a user's)." };
    private static readonly Option<string?> AdminOption = new("--admin") { Description = "The user who becomes the team's first admin (default: you)." };

    public CreateTeamCommand() : base("create", "Create a team (server admin only).")
    {
        Arguments.Add(NameArgument);
        Options.Add(AdminOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var admin = parseResult.GetValue(AdminOption) ?? (await client.GetViewerAsync(cancellationToken)).Entity;
        var team = await client.CreateTeamAsync(parseResult.GetValue(NameArgument)!, admin, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(team, LiftoffJsonContext.Default.TeamInfo);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Created team {team.Name} with {admin} as its admin; act on it with --entity {team.Name}.");
        }

        return ExitCodes.Success;
    }
}
