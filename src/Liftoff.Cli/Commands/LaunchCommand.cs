using System.CommandLine;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Jobs;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff launch</c>: enqueue a job version with overrides, or show what would run (--dry-run).</summary>
internal sealed class LaunchCommand : BaseCommand
{
    private const int Attempts = 5;

    private static readonly Option<string?> JobOption = new("--job", "-j") { Description = "The job: NAME, NAME:ALIAS or NAME:vK (default alias latest)." };
    private static readonly Option<string> QueueOption = new("--queue", "-q") { Description = "The queue to put the item on.", Required = true };
    private static readonly Option<string?> ProjectOption = new("--project", "-p") { Description = "The job's project, where the run goes (default uncategorized)." };
    private static readonly Option<string[]> ConfigOption = new("--config", "-c") { Description = "A run config override key=value (value parsed as JSON when it is JSON)." };
    private static readonly Option<string?> ConfigFileOption = new("--config-file") { Description = "Run config overrides from a YAML or JSON file (--config pairs win)." };
    private static readonly Option<string?> ResourceArgsOption = new("--resource-args") { Description = "Resource config overrides from a YAML or JSON file, deep-merged over the queue's." };
    private static readonly Option<string[]> SetVarOption = new("--set-var") { Description = "A template variable value name=value." };
    private static readonly Option<string?> PriorityOption = new("--priority") { Description = "critical, high, medium (default) or low." };
    private static readonly Option<string?> EntrypointOption = new("--entrypoint") { Description = "Run this command instead of the job's entrypoint." };
    private static readonly Option<bool> DryRunOption = new("--dry-run") { Description = "Print the effective resource config, run config and environment; enqueue nothing." };

    public LaunchCommand() : base("launch", "Put a job on a queue for an agent to run.")
    {
        Options.Add(JobOption);
        Options.Add(QueueOption);
        Options.Add(ProjectOption);
        Options.Add(ConfigOption);
        Options.Add(ConfigFileOption);
        Options.Add(ResourceArgsOption);
        Options.Add(SetVarOption);
        Options.Add(PriorityOption);
        Options.Add(EntrypointOption);
        Options.Add(DryRunOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var queue = parseResult.GetValue(QueueOption)!;
        var request = BuildRequest(parseResult, parseResult.GetValue(JobOption) ?? throw new LiftoffException("--job is required: the job to launch (NAME, NAME:ALIAS or NAME:vK)"));
        using var client = Connect();
        if (parseResult.GetValue(DryRunOption))
        {
            Output.Json(await client.DryRunAsync(queue, request, cancellationToken), LiftoffJsonContext.Default.LaunchSpec);
            return ExitCodes.Success;
        }

        var item = await EnqueueWithRetriesAsync(client, queue, request, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(item, LiftoffJsonContext.Default.ItemInfo);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Enqueued {item.Job} on queue {item.Queue} as item {item.Id} ({item.Priority} priority).");
            await Console.Error.WriteLineAsync($"Follow it with: liftoff queue describe {item.Queue}");
        }

        return ExitCodes.Success;
    }

    /// <summary>Retries a lost answer or a busy server with the same idempotency key, so the item is never doubled.</summary>
    private static async Task<ItemInfo> EnqueueWithRetriesAsync(LiftoffClient client, string queue, EnqueueRequest request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await client.EnqueueAsync(queue, request, cancellationToken);
            }
            catch (LiftoffException ex) when (attempt < Attempts && ex.StatusCode is null or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (1 << attempt) + Random.Shared.Next(100)), cancellationToken);
            }
        }
    }

    private static EnqueueRequest BuildRequest(ParseResult parseResult, string job)
    {
        var config = parseResult.GetValue(ConfigFileOption) is { } file ? ConfigFiles.ReadObject(file, "--config-file") : [];
        foreach (var (key, value) in ConfigFiles.ReadPairs(parseResult.GetValue(ConfigOption) ?? [], "--config"))
        {
            config[key] = value?.DeepClone();
        }

        var templateValues = ConfigFiles.ReadPairs(parseResult.GetValue(SetVarOption) ?? [], "--set-var")
            .ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value, LiftoffJsonContext.Default.JsonNode));
        IReadOnlyList<string>? entrypoint = null;
        if (parseResult.GetValue(EntrypointOption) is { } command)
        {
            try
            {
                entrypoint = CommandLines.Split(command);
            }
            catch (FormatException ex)
            {
                throw new LiftoffException($"--entrypoint: {ex.Message}");
            }
        }

        return new EnqueueRequest(
            job,
            parseResult.GetValue(ProjectOption),
            config.Count == 0 ? null : Element(config),
            parseResult.GetValue(ResourceArgsOption) is { } args ? Element(ConfigFiles.ReadObject(args, "--resource-args")) : null,
            templateValues,
            parseResult.GetValue(PriorityOption),
            entrypoint,
            IdempotencyKey: "cli-" + Guid.NewGuid().ToString("N"));
    }

    private static JsonElement Element(JsonObject value) => JsonSerializer.SerializeToElement(value, LiftoffJsonContext.Default.JsonObject);
}
