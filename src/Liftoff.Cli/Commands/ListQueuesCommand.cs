using System.CommandLine;
using System.Globalization;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListQueuesCommand : BaseCommand
{
    public ListQueuesCommand() : base("list", "List your queues with their depth and agents.")
    {
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var queues = await client.ListQueuesAsync(cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(queues, LiftoffJsonContext.Default.QueueList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("NAME", "RESOURCE", "STATE", "PENDING", "RUNNING", "AGENTS", "OLDEST PENDING");
        foreach (var q in queues.Queues)
        {
            table.AddRow(Markup.Escape(q.Name), q.Resource, q.Paused ? "paused" : "active", q.Depth.ToString(CultureInfo.InvariantCulture),
                (q.Items.GetValueOrDefault(ItemStates.Running) + q.Items.GetValueOrDefault(ItemStates.Starting) + q.Items.GetValueOrDefault(ItemStates.Leased)).ToString(CultureInfo.InvariantCulture),
                q.Agents.Count.ToString(CultureInfo.InvariantCulture), q.OldestPendingSeconds is { } age ? Output.Age(age) : "-");
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
