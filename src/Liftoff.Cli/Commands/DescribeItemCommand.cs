using System.CommandLine;
using System.Globalization;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class DescribeItemCommand : BaseCommand
{
    private static readonly Argument<string> ItemArgument = new("item") { Description = "The launch item id." };

    public DescribeItemCommand() : base("describe", "Show a launch item and its history: every state, attempt, failure class and message.")
    {
        Arguments.Add(ItemArgument);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var id = parseResult.GetValue(ItemArgument)!;
        var item = await client.GetItemAsync(id, cancellationToken);
        var history = await client.GetItemHistoryAsync(id, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(history, LiftoffJsonContext.Default.ItemHistory);
            return ExitCodes.Success;
        }

        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(item.Id)}[/] on queue {Markup.Escape(item.Queue)}: {item.State}, attempt {item.Attempt}, job {Markup.Escape(item.Job)}, run {Markup.Escape(item.RunId ?? "-")}");
        if (WaitingReason(item) is { } waiting)
        {
            AnsiConsole.MarkupLine(Markup.Escape(waiting));
        }

        if (item.FailureClass is { } failureClass && item.Error is { } error)
        {
            AnsiConsole.MarkupLine($"last failure: {failureClass} in {Markup.Escape(item.Phase ?? "-")}: {Markup.Escape(error)}");
        }

        var policy = item.RetryPolicy;
        if (policy?.Attempts is { } attempts)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"retries: {string.Join(", ", attempts.Select(a => $"{a.Key} {a.Value}"))}; exit codes retried: {string.Join(", ", policy.RetryOnExitCodes ?? [])}"
                + (item.MaxRunSeconds is { } maxRun ? $"; max run {maxRun} s" : "")));
        }

        var table = new Table().Title("history").AddColumns("TIME", "STATE", "ATTEMPT", "CLASS", "RUN", "MESSAGE");
        foreach (var e in history.Events)
        {
            var message = e.Message ?? "";
            if (e.ClaimableAt is { } until)
            {
                message = $"backing off until {Output.Time(until)}; {message}";
            }

            table.AddRow(Output.Time(e.At), e.State, e.Attempt.ToString(CultureInfo.InvariantCulture), e.FailureClass ?? "", Markup.Escape(e.RunId ?? ""), Markup.Escape(message));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }

    /// <summary>
    /// Why the item is not running: its agent's word once claimed; pending, its place in line and why it waits there
    /// (backing off after a failed attempt, among others).
    /// </summary>
    public static string? WaitingReason(ItemInfo item) => item.WaitingReason ?? item.Place?.Message;
}
