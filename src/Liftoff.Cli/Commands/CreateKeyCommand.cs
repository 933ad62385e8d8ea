using System.CommandLine;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

internal sealed class CreateKeyCommand : BaseCommand
{
    private static readonly Option<string?> NameOption = new("--name") { Description = "A name to recognise the key by." };

    public CreateKeyCommand() : base("create", "Create an API key; it is shown only once.")
    {
        Options.Add(NameOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var key = await client.CreateKeyAsync(parseResult.GetValue(NameOption), cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(key, LiftoffJsonContext.Default.CreatedKey);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Created key {key.Id} ({key.Name}); the secret is shown only this once:");
            Console.WriteLine(key.Key);
        }

        return ExitCodes.Success;
    }
}
