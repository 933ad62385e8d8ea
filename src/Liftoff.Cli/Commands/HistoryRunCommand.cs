using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class HistoryRunCommand : BaseCommand
{
    private static readonly Argument<string> RunArgument = new("run") { Description = "The run id." };

    public HistoryRunCommand() : base("history", "Print a run's logged metrics, one row per step.")
    {
        Arguments.Add(RunArgument);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var rows = new List<HistoryRow>();
        await foreach (var row in client.ReadHistoryAsync(parseResult.GetValue(RunArgument)!, cancellationToken))
        {
            rows.Add(row);
        }

        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(new HistoryPage(rows, null), LiftoffJsonContext.Default.HistoryPage);
            return ExitCodes.Success;
        }

        var keys = rows.SelectMany(r => r.Values.EnumerateObject().Select(p => p.Name)).Distinct(StringComparer.Ordinal).ToList();
        var table = new Table().AddColumn("STEP");
        foreach (var key in keys)
        {
            table.AddColumn(Markup.Escape(key));
        }

        foreach (var row in rows)
        {
            var cells = new List<string> { row.Step.ToString(CultureInfo.InvariantCulture) };
            cells.AddRange(keys.Select(k => row.Values.TryGetProperty(k, out var v) ? Markup.Escape(v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText()) : ""));
            table.AddRow([.. cells]);
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
