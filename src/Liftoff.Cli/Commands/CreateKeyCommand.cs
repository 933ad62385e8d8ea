using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class CreateKeyCommand : BaseCommand
{
    private static readonly Option<string?> NameOption = KeyArguments.Name();
    private static readonly Option<bool> AgentOption = KeyArguments.Agent();
    private static readonly Option<string[]> QueueOption = KeyArguments.Queue();

    public CreateKeyCommand() : base("create", "Create an API key; it is shown only once.")
    {
        Options.Add(NameOption);
        Options.Add(AgentOption);
        Options.Add(QueueOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var request = KeyArguments.Request(parseResult, NameOption, AgentOption, QueueOption);
        using var client = Connect();
        await KeyArguments.PrintCreatedAsync(parseResult, await client.CreateKeyAsync(request, cancellationToken), "you");
        return ExitCodes.Success;
    }
}
