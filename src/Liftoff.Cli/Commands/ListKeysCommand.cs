using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

internal sealed class ListKeysCommand : BaseCommand
{
    public ListKeysCommand() : base("list", "List your API keys (never their secrets).")
    {
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var keys = await client.ListKeysAsync(cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(keys, LiftoffJsonContext.Default.ApiKeyList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("ID", "NAME", "CREATED", "REVOKED");
        foreach (var key in keys.Keys)
        {
            table.AddRow(Markup.Escape(key.Id), Markup.Escape(key.Name), Output.Time(key.CreatedAt), Output.Time(key.RevokedAt));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }
}
