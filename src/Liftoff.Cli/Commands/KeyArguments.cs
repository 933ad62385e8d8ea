using System.CommandLine;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

/// <summary>What the commands that create and list keys (a user's, a service account's) share.</summary>
internal static class KeyArguments
{
    public static Option<string?> Name() => new("--name") { Description = "A name to recognise the key by." };

    public static Option<bool> Agent() => new("--agent")
    {
        Description = "An agent-only key: it claims, heartbeats and reports items of the --queue queues and reads what their launches need, nothing else.",
    };

    public static Option<string[]> Queue() => new("--queue")
    {
        Description = "With --agent: a queue the key works on (repeat for several).",
        AllowMultipleArgumentsPerToken = false,
    };

    public static CreateKeyRequest Request(ParseResult parseResult, Option<string?> name, Option<bool> agent, Option<string[]> queue)
    {
        var queues = parseResult.GetValue(queue) is { Length: > 0 } given ? given : null;
        if (!parseResult.GetValue(agent) && queues is not null)
        {
            throw new Client.LiftoffException("--queue limits an agent-only key: add --agent");
        }

        return new CreateKeyRequest(parseResult.GetValue(name), parseResult.GetValue(agent) ? true : null, queues);
    }

    public static async Task PrintCreatedAsync(ParseResult parseResult, CreatedKey key, string owner)
    {
        if (parseResult.GetValue(BaseCommand.JsonOption))
        {
            Output.Json(key, LiftoffJsonContext.Default.CreatedKey);
            return;
        }

        var limit = key.AgentQueues is { } queues ? $", agent-only on {string.Join(", ", queues)}" : "";
        await Console.Error.WriteLineAsync($"Created key {key.Id} ({key.Name}{limit}) for {owner}; the secret is shown only this once:");
        Console.WriteLine(key.Key);
    }

    public static void PrintList(ParseResult parseResult, ApiKeyList keys)
    {
        if (parseResult.GetValue(BaseCommand.JsonOption))
        {
            Output.Json(keys, LiftoffJsonContext.Default.ApiKeyList);
            return;
        }

        var table = new Table().AddColumns("ID", "NAME", "AGENT QUEUES", "CREATED", "REVOKED");
        foreach (var key in keys.Keys)
        {
            table.AddRow(Markup.Escape(key.Id), Markup.Escape(key.Name), Markup.Escape(key.AgentQueues is { } queues ? string.Join(", ", queues) : "-"),
                Output.Time(key.CreatedAt), Output.Time(key.RevokedAt));
        }

        Output.Table(table);
    }
}
