using System.CommandLine;
using Liftoff.Client;
using Liftoff.Core;
using Liftoff.Server.Hosting;

namespace Liftoff.Cli.Commands;

/// <summary>
/// <c>liftoff up</c>: the zero-configuration start. Server on the embedded store, a user named after the OS user,
/// and the user config written so that the CLI and SDK scripts on this machine work with no further step.
/// </summary>
internal sealed class UpCommand : BaseCommand
{
    public UpCommand() : base("up", "Start Liftoff on this machine (server + embedded database) and configure the CLI and SDKs to use it.")
    {
        Options.Add(ServerCommand.DataDirOption);
        Options.Add(ServerCommand.PortOption);
        Options.Add(ServerCommand.HostOption);
        Options.Add(ServerCommand.HeartbeatTimeoutOption);
    }

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

        await Console.Error.WriteLineAsync("Press Ctrl+C to stop.");
        await server.WaitForShutdownAsync(cancellationToken);
        return ExitCodes.Success;
    }
}
