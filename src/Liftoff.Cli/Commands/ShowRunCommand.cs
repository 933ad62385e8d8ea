using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ShowRunCommand : BaseCommand
{
    private static readonly Argument<string> RunArgument = new("run") { Description = "The run id." };

    public ShowRunCommand() : base("show", "Show a run: state, config, summary, timings.")
    {
        Arguments.Add(RunArgument);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var run = await client.GetRunAsync(parseResult.GetValue(RunArgument)!, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(run, LiftoffJsonContext.Default.RunInfo);
            return ExitCodes.Success;
        }

        var grid = new Grid().AddColumn().AddColumn();
        void Row(string name, string? value) => grid.AddRow(new Markup($"[bold]{name}[/]"), new Text(value ?? "-"));
        Row("id", run.Id);
        Row("name", run.Name);
        Row("project", $"{run.Entity}/{run.Project}");
        grid.AddRow(new Markup("[bold]state[/]"), new Markup(Output.StateMarkup(run.State) + (run.StopRequested && run.State == RunStates.Running ? " (stop requested)" : "")));
        Row("exit code", run.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Row("created", Output.Time(run.CreatedAt));
        Row("started", Output.Time(run.StartedAt));
        Row("ended", Output.Time(run.EndedAt));
        Row("duration", Output.Duration(run.StartedAt, run.EndedAt));
        Row("host", run.Host);
        Row("program", run.Program);
        Row("python", run.PythonVersion);
        Row("history", run.LastStep is { } last ? $"{last + 1} steps" : "none");
        Row("console", $"{run.LogLines} lines");
        Row("config", run.Config.GetRawText());
        Row("summary", run.Summary.GetRawText());
        AnsiConsole.Write(grid);
        return ExitCodes.Success;
    }
}
