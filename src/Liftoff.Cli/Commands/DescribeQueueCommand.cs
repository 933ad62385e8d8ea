using System.CommandLine;
using System.Globalization;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class DescribeQueueCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The queue." };

    public DescribeQueueCommand() : base("describe", "Show a queue: items by state, pending order, agents polling it.")
    {
        Arguments.Add(NameArgument);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var name = parseResult.GetValue(NameArgument)!;
        var queue = await client.GetQueueAsync(name, cancellationToken);
        var items = await client.ListItemsAsync(name, limit: 20, cancellationToken: cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(queue, LiftoffJsonContext.Default.QueueInfo);
            return ExitCodes.Success;
        }

        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(queue.Name)}[/] on {queue.Resource}, up to {queue.MaxAttempts} attempts, start timeout {queue.StartTimeoutSeconds} s");
        if (queue.Paused)
        {
            AnsiConsole.MarkupLine($"[yellow]paused[/]: agents claim nothing until 'liftoff queue resume {Markup.Escape(queue.Name)}'");
        }

        AnsiConsole.MarkupLine($"items: {Markup.Escape(string.Join(", ", queue.Items.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}")))}{(queue.Items.Count == 0 ? "none" : "")}; depth {queue.Depth}{(queue.OldestPendingSeconds is { } age ? $", oldest pending {Output.Age(age)}" : "")}");
        AnsiConsole.MarkupLine($"config: {Markup.Escape(queue.Config.GetRawText())}");
        if (queue.RetryPolicy is { Attempts: { } attempts } policy)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"retries: {string.Join(", ", attempts.Select(a => $"{a.Key} {a.Value}"))}; exit codes retried: {string.Join(", ", policy.RetryOnExitCodes ?? [])}; "
                + $"backoff {policy.Backoff?.InitialSeconds} s doubling to {policy.Backoff?.MaxSeconds} s (jitter {policy.Backoff?.Jitter})"
                + (queue.MaxRunSeconds is { } maxRun ? $"; max run {maxRun} s" : "")));
        }
        if (queue.TemplateVariables.Count > 0)
        {
            AnsiConsole.MarkupLine($"template variables: {Markup.Escape(string.Join(", ", queue.TemplateVariables.Select(v => $"{v.Name} ({Core.Launch.TemplateVariables.Describe(v)})")))}");
        }

        var agents = new Table().Title("agents").AddColumns("ID", "NAME", "STATE", "RUNNING", "LAST HEARTBEAT");
        foreach (var a in queue.Agents)
        {
            agents.AddRow(Markup.Escape(a.Id), Markup.Escape(a.Name), a.State, a.RunningItems.ToString(CultureInfo.InvariantCulture), Output.Time(a.LastHeartbeatAt));
        }

        var table = new Table().Title("items (pending in claim order first)").AddColumns("#", "ITEM", "STATE", "PRIORITY", "ATTEMPT", "JOB", "RUN", "WAITING FOR", "ERROR");
        foreach (var i in items.Items)
        {
            table.AddRow(i.Place?.Position.ToString(CultureInfo.InvariantCulture) ?? "", Markup.Escape(i.Id), i.State, i.Priority, i.Attempt.ToString(CultureInfo.InvariantCulture), Markup.Escape(i.Job), Markup.Escape(i.RunId ?? "-"),
                Markup.Escape(DescribeItemCommand.WaitingReason(i) ?? ""),
                Markup.Escape(i.Error is null ? "" : $"{(i.FailureClass is { } c ? c + " in " : "")}{i.Phase}: {i.Error}"));
        }

        Output.Table(agents);
        Output.Table(table);
        return ExitCodes.Success;
    }
}
