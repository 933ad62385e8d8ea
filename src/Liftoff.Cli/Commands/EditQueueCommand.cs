using System.CommandLine;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Launch;

namespace Liftoff.Cli.Commands;

/// <summary>
/// Changes what the options name and keeps the rest: reads the queue, then sends its whole settings back (the server
/// replaces them at once, checked as at creation, and audits the config before and after).
/// </summary>
internal sealed class EditQueueCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The queue's name." };
    private static readonly Option<string?> ConfigOption = new("--config") { Description = "New default resource config, replacing the current one: a YAML or JSON file." };
    private static readonly Option<string[]> TemplateVarOption = new("--template-var")
    {
        Description = "Template variables replacing the current ones (repeat for several): name=integer:1..8, name=number:0.1.., name=string:a|b.",
        AllowMultipleArgumentsPerToken = false,
    };

    private static readonly Option<int?> MaxAttemptsOption = new("--max-attempts") { Description = "Attempts before an item whose agent vanished fails." };
    private static readonly Option<int?> StartTimeoutOption = new("--start-timeout") { Description = "Seconds an item may spend starting (build, pull) before it fails." };
    private static readonly Option<int?> MaxRunSecondsOption = new("--max-run-seconds") { Description = "Seconds an item's workload may run before it is stopped." };
    private static readonly Option<string[]> AllowedMemberOption = new("--allowed-member")
    {
        Description = "On a team's queue: the members who may launch onto it, replacing the current list (repeat for several); the team's admins always may.",
        AllowMultipleArgumentsPerToken = false,
    };

    private static readonly Option<bool> AllMembersOption = new("--all-members") { Description = "Lift the restriction: every member of the team may launch onto it." };

    public EditQueueCommand() : base("edit", "Change a queue's settings (the entity's admins); items claimed afterwards take them.")
    {
        Arguments.Add(NameArgument);
        Options.Add(ConfigOption);
        Options.Add(TemplateVarOption);
        Options.Add(MaxAttemptsOption);
        Options.Add(StartTimeoutOption);
        Options.Add(MaxRunSecondsOption);
        Options.Add(AllowedMemberOption);
        Options.Add(AllMembersOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var allowed = parseResult.GetValue(AllowedMemberOption) is { Length: > 0 } members ? members : null;
        if (allowed is not null && parseResult.GetValue(AllMembersOption))
        {
            throw new LiftoffException("--allowed-member and --all-members contradict each other: give one");
        }

        var variables = parseResult.GetValue(TemplateVarOption) is { Length: > 0 } texts ? [.. texts.Select(ParseVariable)] : (List<TemplateVariable>?)null;
        JsonElement? config = parseResult.GetValue(ConfigOption) is { } path
            ? JsonSerializer.SerializeToElement(ConfigFiles.ReadObject(path, "--config"), LiftoffJsonContext.Default.JsonObject)
            : null;
        using var client = Connect();
        var current = await client.GetQueueAsync(parseResult.GetValue(NameArgument)!, cancellationToken);
        var queue = await client.EditQueueAsync(new CreateQueueRequest(
            current.Name,
            current.Resource,
            config ?? current.Config,
            variables ?? current.TemplateVariables,
            parseResult.GetValue(MaxAttemptsOption) ?? current.MaxAttempts,
            parseResult.GetValue(StartTimeoutOption) ?? current.StartTimeoutSeconds,
            parseResult.GetValue(AllMembersOption) ? null : allowed ?? current.AllowedMembers,
            current.RetryPolicy,
            parseResult.GetValue(MaxRunSecondsOption) ?? current.MaxRunSeconds), cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(queue, LiftoffJsonContext.Default.QueueInfo);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Edited queue {queue.Name} of {queue.Entity}; items claimed from now on take its new settings.");
        }

        return ExitCodes.Success;
    }

    private static TemplateVariable ParseVariable(string text)
    {
        try
        {
            return TemplateVariables.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new LiftoffException($"--template-var {ex.Message}");
        }
    }
}
