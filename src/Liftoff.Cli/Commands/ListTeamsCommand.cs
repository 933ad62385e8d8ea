using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListTeamsCommand : BaseCommand
{
    public ListTeamsCommand() : base("list", "List your teams and your role in each (the server admin: every team).")
    {
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var teams = await client.ListTeamsAsync(cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(teams, LiftoffJsonContext.Default.TeamList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("TEAM", "YOUR ROLE", "CREATED");
        foreach (var team in teams.Teams)
        {
            table.AddRow(Markup.Escape(team.Name), Markup.Escape(team.Role ?? "-"), Output.Time(team.CreatedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
