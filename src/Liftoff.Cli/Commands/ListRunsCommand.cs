using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListRunsCommand : BaseCommand
{
    private static readonly Option<string?> ProjectOption = new("--project", "-p") { Description = "Only runs of this project." };
    private static readonly Option<string?> StateOption = new("--state") { Description = "Only runs in this state (running, finished, failed, killed, crashed, pending)." };
    private static readonly Option<int> LimitOption = new("--limit", "-n") { Description = "How many runs at most.", DefaultValueFactory = _ => 50 };

    public ListRunsCommand() : base("list", "List your runs, newest first.")
    {
        Options.Add(ProjectOption);
        Options.Add(StateOption);
        Options.Add(LimitOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var wanted = parseResult.GetValue(LimitOption);
        var runs = new List<RunInfo>();
        string? cursor = null;
        do
        {
            var page = await client.ListRunsAsync(parseResult.GetValue(ProjectOption), parseResult.GetValue(StateOption), Math.Clamp(wanted - runs.Count, 1, 1000), cursor, cancellationToken);
            runs.AddRange(page.Runs);
            cursor = page.NextCursor;
        }
        while (cursor is not null && runs.Count < wanted);

        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(new RunList(runs, cursor), LiftoffJsonContext.Default.RunList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("ID", "NAME", "PROJECT", "STATE", "CREATED", "DURATION");
        foreach (var run in runs)
        {
            table.AddRow(Markup.Escape(run.Id), Markup.Escape(run.Name), Markup.Escape(run.Project), Output.StateMarkup(run.State), Output.Time(run.CreatedAt), Output.Duration(run.StartedAt, run.EndedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
