using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff admin usage</c>: bytes stored by project and kind, for the server admin.</summary>
internal sealed class UsageAdminCommand : BaseCommand
{
    public UsageAdminCommand() : base("usage", "Show the bytes each project stores (server admin): metric history, console text and artifact files, and the blob store's total.")
    {
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var usage = await client.GetUsageAsync(cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(usage, LiftoffJsonContext.Default.UsageReport);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("PROJECT", "HISTORY", "CONSOLE", "ARTIFACTS", "TOTAL");
        foreach (var p in usage.Projects.OrderByDescending(p => p.HistoryBytes + p.ConsoleBytes + p.ArtifactBytes))
        {
            table.AddRow(Markup.Escape($"{p.Entity}/{p.Project}"), Output.Bytes(p.HistoryBytes), Output.Bytes(p.ConsoleBytes), Output.Bytes(p.ArtifactBytes),
                Output.Bytes(p.HistoryBytes + p.ConsoleBytes + p.ArtifactBytes));
        }

        var t = usage.Totals;
        table.AddRow("(all)", Output.Bytes(t.HistoryBytes), Output.Bytes(t.ConsoleBytes), Output.Bytes(t.ArtifactBytes), Output.Bytes(t.HistoryBytes + t.ConsoleBytes + t.ArtifactBytes));
        Output.Table(table);
        await Console.Error.WriteLineAsync($"Blob store: {Output.Bytes(t.BlobBytes)} (artifact files and archived consoles, shared content counted once).");
        return ExitCodes.Success;
    }
}
