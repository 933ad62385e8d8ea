using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListSecretsCommand : BaseCommand
{
    public ListSecretsCommand() : base("list", "List your secrets: names and dates, never values.")
    {
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var secrets = await client.ListSecretsAsync(cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(secrets, LiftoffJsonContext.Default.SecretList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("NAME", "CREATED", "UPDATED");
        foreach (var secret in secrets.Secrets)
        {
            table.AddRow(Markup.Escape(secret.Name), Output.Time(secret.CreatedAt), Output.Time(secret.UpdatedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
