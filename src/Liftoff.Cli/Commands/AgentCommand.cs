using System.CommandLine;
using Liftoff.Agent;
using Liftoff.Client;
using Liftoff.Targets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Cli.Commands;

/// <summary>
/// <c>liftoff agent</c>: polls queues and runs their items until stopped. The first SIGINT/SIGTERM stops claiming and
/// stops running work (handing the items back) or, with <c>--drain</c>, waits for it; the second stops at once.
/// </summary>
internal sealed class AgentCommand : BaseCommand
{
    private static readonly Option<string[]> QueueOption = new("--queue", "-q") { Description = "A queue to poll (repeat for several).", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<int?> MaxJobsOption = new("--max-jobs", "-j") { Description = "How many items run at once (default 1)." };
    private static readonly Option<string?> NameOption = new("--name") { Description = "The agent's name in 'liftoff agent list' (default: the host name)." };
    private static readonly Option<string?> ConfigOption = new("--config", "-c") { Description = "A YAML agent config file (see docs/agent.md); options given here override it." };
    private static readonly Option<bool> DrainOption = new("--drain") { Description = "On SIGINT/SIGTERM, let running items finish instead of stopping them and handing them back." };
    private static readonly Option<string?> WorkDirOption = new("--work-dir") { Description = "Where item work directories and caches live (default ~/.cache/liftoff/agent)." };

    public AgentCommand() : base("agent", HostedCommandText.Agent)
    {
        Options.Add(QueueOption);
        Options.Add(MaxJobsOption);
        Options.Add(NameOption);
        Options.Add(ConfigOption);
        Options.Add(DrainOption);
        Options.Add(WorkDirOption);
        Subcommands.Add(new ListAgentsCommand());
    }

    protected override bool HandlesSecondSignal => true;

    /// <summary>The agent with the runners this build has, logging people's text to stderr.</summary>
    public static ServiceProvider BuildServices(LiftoffClient client, AgentOptions options) =>
        new ServiceCollection()
            .AddLogging(logging => logging
                .AddSimpleConsole(console =>
                {
                    console.SingleLine = true;
                    console.TimestampFormat = "HH:mm:ss ";
                })
                .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace)
                .SetMinimumLevel(LogLevel.Information))
            .AddLiftoffAgent(client, options)
            .AddTargetRunners(options)
            .BuildServiceProvider();

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var options = new AgentOptions();
        if (parseResult.GetValue(ConfigOption) is { } config)
        {
            AgentConfigFile.Apply(config, options);
        }

        if (parseResult.GetValue(QueueOption) is { Length: > 0 } queues)
        {
            options.Queues = [.. queues.Distinct(StringComparer.Ordinal)];
        }

        options.MaxJobs = parseResult.GetValue(MaxJobsOption) ?? options.MaxJobs;
        options.Name = parseResult.GetValue(NameOption) ?? options.Name;
        options.Drain |= parseResult.GetValue(DrainOption);
        options.WorkDirectory = parseResult.GetValue(WorkDirOption) is { } dir ? Path.GetFullPath(dir) : options.WorkDirectory;
        if (AgentConfigFile.Validate(options) is { Count: > 0 } problems)
        {
            await Console.Error.WriteLineAsync("liftoff: " + string.Join("\nliftoff: ", problems));
            return ExitCodes.Usage;
        }

        // An agent outlives a replica going away behind a load balancer: its calls are tried again for a minute.
        using var client = new LiftoffClient(Settings() with { RetryFor = TimeSpan.FromMinutes(1) });
        await using var services = BuildServices(client, options);
        await services.GetRequiredService<AgentWorker>().ExecuteAsync(cancellationToken, ShutdownToken);
        return ExitCodes.Success;
    }
}
