using System.CommandLine;
using System.Net;
using Liftoff.Agent;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Server.Hosting;
using Liftoff.Targets;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Cli.Commands;

/// <summary>
/// <c>liftoff up</c>: the zero-configuration start. Server on the embedded store, a user named after the OS user,
/// the user config written so that the CLI and SDK scripts on this machine work with no further step, and the
/// <c>default</c> local-process queue with an agent on it in this process.
/// </summary>
internal sealed class UpCommand : BaseCommand
{
    public UpCommand() : base("up", HostedCommandText.Up)
    {
        Options.Add(ServerCommand.DataDirOption);
        Options.Add(ServerCommand.PortOption);
        Options.Add(ServerCommand.MetricsPortOption);
        Options.Add(ServerCommand.HostOption);
        Options.Add(ServerCommand.HeartbeatTimeoutOption);
        Options.Add(ServerCommand.LogArchiveBytesOption);
        Options.Add(ServerCommand.AuditRetentionOption);
        Options.Add(ServerCommand.LogArchiveAfterOption);
    }

    public const string DefaultQueue = "default";

    protected override bool HandlesSecondSignal => true;

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var user = Names.IsValid(Environment.UserName) ? Environment.UserName : "admin";
        if (ServerCommand.ReadOptions(parseResult, user) is not { } options)
        {
            return ExitCodes.Usage;
        }

        await using var server = await LiftoffServer.StartAsync(options, cancellationToken: cancellationToken);
        var baseUrl = new Uri(server.BaseUrl.ToString().Replace("://0.0.0.0:", "://127.0.0.1:", StringComparison.Ordinal));
        var saved = LiftoffSettings.Load();
        string? shownKey = null;
        if (saved is null || saved.BaseUrl != baseUrl || !await server.IsActiveKeyAsync(saved.ApiKey, cancellationToken))
        {
            shownKey = server.InitialAdminKey ?? await server.CreateAdminKeyAsync($"liftoff up on {Environment.MachineName}", cancellationToken);
            new LiftoffSettings(baseUrl, shownKey).Save();
        }

        await Console.Error.WriteLineAsync($"""
            Liftoff is up at {baseUrl}
              data:   {options.DataDirectory}
              user:   {options.AdminName}
              config: {LiftoffSettings.ConfigFilePath} (the CLI and SDKs on this machine use it)
            """);
        if (shownKey is not null)
        {
            await Console.Error.WriteLineAsync("API key (shown only this once; already saved in the config above):");
            Console.WriteLine(shownKey);
        }

        using var client = new LiftoffClient(new LiftoffSettings(baseUrl, shownKey ?? saved!.ApiKey));
        await EnsureDefaultQueueAsync(client, cancellationToken);
        var agentOptions = new AgentOptions
        {
            Name = $"up-{Environment.MachineName}",
            Queues = [DefaultQueue],
            WorkDirectory = Path.Combine(options.DataDirectory, "agent"),
        };
        await using var agentServices = AgentCommand.BuildServices(client, agentOptions);
        var agent = agentServices.GetRequiredService<AgentWorker>().ExecuteAsync(cancellationToken, ShutdownToken);
        await Console.Error.WriteLineAsync($"Queue '{DefaultQueue}' runs jobs on this machine (local-process). Press Ctrl+C to stop.");
        await Task.WhenAny(server.WaitForShutdownAsync(cancellationToken), agent);
        // The agent stops first: its workloads end (the items return to the queue) while the server still answers.
        await agent;
        return ExitCodes.Success;
    }

    private static async Task EnsureDefaultQueueAsync(LiftoffClient client, CancellationToken cancellationToken)
    {
        try
        {
            await client.GetQueueAsync(DefaultQueue, cancellationToken);
        }
        catch (LiftoffException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            await client.CreateQueueAsync(new CreateQueueRequest(DefaultQueue, Resources.LocalProcess), cancellationToken);
        }
    }
}
