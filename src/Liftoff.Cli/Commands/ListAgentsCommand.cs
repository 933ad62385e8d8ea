using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListAgentsCommand : BaseCommand
{
    public ListAgentsCommand() : base("list", "List registered agents: their queues, state (offline once silent for three heartbeat intervals) and last heartbeat.")
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
            // An offline agent's last report (e.g. running 1/1) is no longer true: its items went back by lease expiry.
            var offline = agent.State == AgentStates.Offline;
            table.AddRow(
                Markup.Escape(agent.Id),
                Markup.Escape(agent.Name),
                Markup.Escape(string.Join(", ", agent.Queues)),
                Markup.Escape(agent.StopRequested && agent.State is not (AgentStates.Stopped or AgentStates.Offline) ? $"{agent.State} (stop requested)" : agent.State),
                offline ? "-" : $"{agent.RunningItems}/{agent.MaxJobs}",
                $"{(offline ? "last seen " : "")}{Output.Time(agent.LastHeartbeatAt)} ({Output.Duration(agent.LastHeartbeatAt, null)} ago)",
                Markup.Escape(agent.Host ?? "-"));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
