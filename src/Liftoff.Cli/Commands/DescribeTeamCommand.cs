using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class DescribeTeamCommand : BaseCommand
{
    private static readonly Argument<string> TeamArgument = TeamArguments.Team();

    public DescribeTeamCommand() : base("describe", "Show a team's members and their roles.")
    {
        Arguments.Add(TeamArgument);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var team = await client.GetTeamAsync(parseResult.GetValue(TeamArgument)!, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(team, LiftoffJsonContext.Default.TeamInfo);
            return ExitCodes.Success;
        }

        await Console.Error.WriteLineAsync($"Team {team.Name}, created {Output.Time(team.CreatedAt)}");
        var table = new Table().AddColumns("MEMBER", "ROLE", "JOINED");
        foreach (var member in team.Members)
        {
            table.AddRow(Markup.Escape(member.User), Markup.Escape(member.Role), Output.Time(member.JoinedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
