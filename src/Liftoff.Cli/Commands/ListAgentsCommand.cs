using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListAgentsCommand : BaseCommand
{
    public ListAgentsCommand() : base("list", "List registered agents: their queues, state and last heartbeat.")
    {
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var agents = await client.ListAgentsAsync(cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(agents, LiftoffJsonContext.Default.AgentList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("ID", "NAME", "QUEUES", "STATE", "RUNNING", "LAST HEARTBEAT", "HOST");
        foreach (var agent in agents.Agents.OrderByDescending(a => a.LastHeartbeatAt))
        {
            table.AddRow(
                Markup.Escape(agent.Id),
                Markup.Escape(agent.Name),
                Markup.Escape(string.Join(", ", agent.Queues)),
                Markup.Escape(agent.StopRequested && agent.State != AgentStates.Stopped ? $"{agent.State} (stop requested)" : agent.State),
                $"{agent.RunningItems}/{agent.MaxJobs}",
                $"{Output.Time(agent.LastHeartbeatAt)} ({Output.Duration(agent.LastHeartbeatAt, null)} ago)",
                Markup.Escape(agent.Host ?? "-"));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
