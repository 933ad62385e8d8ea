using System.CommandLine;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Targets;

namespace Liftoff.Cli.Commands;

internal sealed class CreateQueueCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The queue's name." };
    private static readonly Option<string> ResourceOption = new("--resource") { Description = $"The target resource: {string.Join(", ", TargetRegistry.All.Select(t => t.Name))}.", Required = true };
    private static readonly Option<string?> ConfigOption = new("--config") { Description = "Default resource config: a YAML or JSON file." };
    private static readonly Option<string[]> TemplateVarOption = new("--template-var") { Description = "A template variable items must set: name=integer:1..8, name=number:0.1.., name=string:a|b.", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<int?> MaxAttemptsOption = new("--max-attempts") { Description = "Attempts before an item whose agent vanished fails (default 3)." };
    private static readonly Option<string[]> AllowedMemberOption = new("--allowed-member")
    {
        Description = "On a team's queue: a member who may launch onto it (repeat for several); the team's admins always may. Default: every member.",
        AllowMultipleArgumentsPerToken = false,
    };

    private static readonly Option<int?> StartTimeoutOption = new("--start-timeout") { Description = "Seconds an item may spend starting (build, pull) before it fails (default 1800)." };

    public CreateQueueCommand() : base("create", "Create a queue for one target resource.")
    {
        Arguments.Add(NameArgument);
        Options.Add(ResourceOption);
        Options.Add(ConfigOption);
        Options.Add(TemplateVarOption);
        Options.Add(MaxAttemptsOption);
        Options.Add(StartTimeoutOption);
        Options.Add(AllowedMemberOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var variables = new List<TemplateVariable>();
        foreach (var text in parseResult.GetValue(TemplateVarOption) ?? [])
        {
            try
            {
                variables.Add(TemplateVariables.Parse(text));
            }
            catch (FormatException ex)
            {
                throw new LiftoffException($"--template-var {ex.Message}");
            }
        }

        JsonElement? config = parseResult.GetValue(ConfigOption) is { } path
            ? JsonSerializer.SerializeToElement(ConfigFiles.ReadObject(path, "--config"), LiftoffJsonContext.Default.JsonObject)
            : null;
        using var client = Connect();
        var queue = await client.CreateQueueAsync(new CreateQueueRequest(parseResult.GetValue(NameArgument)!, parseResult.GetValue(ResourceOption)!, config, variables,
            parseResult.GetValue(MaxAttemptsOption), parseResult.GetValue(StartTimeoutOption),
            parseResult.GetValue(AllowedMemberOption) is { Length: > 0 } allowed ? allowed : null), cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(queue, LiftoffJsonContext.Default.QueueInfo);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Created queue {queue.Name} on {queue.Resource}. Start an agent on it: liftoff agent --queue {queue.Name}");
        }

        return ExitCodes.Success;
    }
}
