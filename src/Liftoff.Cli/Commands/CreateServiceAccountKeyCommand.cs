using System.CommandLine;

namespace Liftoff.Cli.Commands;

internal sealed class CreateServiceAccountKeyCommand : BaseCommand
{
    private static readonly Argument<string> AccountArgument = ServiceAccountArguments.Name();
    private static readonly Option<string> TeamOption = ServiceAccountArguments.Team();
    private static readonly Option<string?> NameOption = KeyArguments.Name();
    private static readonly Option<bool> AgentOption = KeyArguments.Agent();
    private static readonly Option<string[]> QueueOption = KeyArguments.Queue();

    public CreateServiceAccountKeyCommand() : base("create", "Create an API key for a service account (team admins); it is shown only once.")
    {
        Arguments.Add(AccountArgument);
        Options.Add(TeamOption);
        Options.Add(NameOption);
        Options.Add(AgentOption);
        Options.Add(QueueOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var request = KeyArguments.Request(parseResult, NameOption, AgentOption, QueueOption);
        var (team, account) = (parseResult.GetValue(TeamOption)!, parseResult.GetValue(AccountArgument)!);
        using var client = Connect();
        await KeyArguments.PrintCreatedAsync(parseResult, await client.CreateServiceAccountKeyAsync(team, account, request, cancellationToken), $"service account {account} of team {team}");
        return ExitCodes.Success;
    }
}
