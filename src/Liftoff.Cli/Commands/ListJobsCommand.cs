using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListJobsCommand : BaseCommand
{
    private static readonly Option<string?> ProjectFilterOption = new("--project", "-p") { Description = "Only jobs of this project." };

    public ListJobsCommand() : base("list", "List your jobs.")
    {
        Options.Add(ProjectFilterOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var jobs = await client.ListJobsAsync(parseResult.GetValue(ProjectFilterOption), cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(jobs, LiftoffJsonContext.Default.JobList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("PROJECT", "NAME", "VERSIONS", "LATEST", "CREATED");
        foreach (var job in jobs.Jobs)
        {
            table.AddRow(Markup.Escape(job.Project), Markup.Escape(job.Name), job.VersionCount.ToString(System.Globalization.CultureInfo.InvariantCulture), job.Latest ?? "-", Output.Time(job.CreatedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
