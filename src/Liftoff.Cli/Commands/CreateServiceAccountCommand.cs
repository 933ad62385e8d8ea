using System.CommandLine;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

internal sealed class CreateServiceAccountCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = ServiceAccountArguments.Name();
    private static readonly Option<string> TeamOption = ServiceAccountArguments.Team();
    private static readonly Option<string> RoleOption = TeamArguments.Role("member");

    public CreateServiceAccountCommand() : base("create", "Create a service account of a team, acting there with a role (team admins); give it keys with 'service-account key create'.")
    {
        Arguments.Add(NameArgument);
        Options.Add(TeamOption);
        Options.Add(RoleOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var account = await client.CreateServiceAccountAsync(parseResult.GetValue(TeamOption)!, parseResult.GetValue(NameArgument)!, parseResult.GetValue(RoleOption), cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(account, LiftoffJsonContext.Default.ServiceAccountInfo);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Created service account {account.Name} of team {account.Team} as {account.Role} (the audit log names it {account.Actor}). "
                + $"Give it a key: liftoff service-account key create {account.Name} --team {account.Team}");
        }

        return ExitCodes.Success;
    }
}
