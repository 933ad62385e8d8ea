using System.CommandLine;
using Liftoff.Client;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff login</c>: checks a key against a server and stores both in the user config (mode 0600).</summary>
internal sealed class LoginCommand : BaseCommand
{
    private static readonly Option<string> UrlOption = new("--url")
    {
        Description = "The server's base URL.",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("LIFTOFF_BASE_URL") is { Length: > 0 } url ? url : "http://127.0.0.1:8080",
    };

    private static readonly Option<string?> KeyOption = new("--key")
    {
        Description = "The API key (default: LIFTOFF_API_KEY, else read from standard input).",
    };

    public LoginCommand() : base("login", "Store the server URL and your API key for the CLI and SDKs.")
    {
        Options.Add(UrlOption);
        Options.Add(KeyOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var key = parseResult.GetValue(KeyOption) ?? Environment.GetEnvironmentVariable("LIFTOFF_API_KEY");
        if (string.IsNullOrEmpty(key))
        {
            if (!Console.IsInputRedirected)
            {
                await Console.Error.WriteAsync("API key: ");
            }

            key = (await Console.In.ReadLineAsync(cancellationToken))?.Trim();
        }

        if (string.IsNullOrEmpty(key))
        {
            await Console.Error.WriteLineAsync("liftoff: no API key given: pass --key, set LIFTOFF_API_KEY or type it when asked");
            return ExitCodes.Usage;
        }

        var settings = LiftoffSettings.Resolve(parseResult.GetValue(UrlOption), key, parseResult.GetValue(EntityOption));
        using var client = new LiftoffClient(settings);
        var viewer = await client.GetViewerAsync(cancellationToken);
        settings.Save();
        await Console.Error.WriteLineAsync($"Logged in to {settings.BaseUrl} as {viewer.Entity}; saved to {LiftoffSettings.ConfigFilePath}");
        return ExitCodes.Success;
    }
}
