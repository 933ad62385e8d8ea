using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Targets.Builders;

namespace Liftoff.Targets.Vertex;

/// <summary>
/// The <c>vertex</c> target: each launch is a Vertex AI CustomJob running the job's image. The resource config gives the
/// CustomJobSpec (<see cref="VertexSchema"/>); the agent sets every worker pool's containerSpec (image, entrypoint, the
/// run's variables), the display name <c>liftoff-{run id}</c> and labels naming the item, attempt, run, queue and agent,
/// which is how a restarted agent finds its jobs again.
/// </summary>
internal sealed class VertexRunner(AgentOptions options, IImageBuilder builder, VertexClient client, TimeProvider time) : ILaunchRunner, IReattachableRunner
{
    public const string LabelItem = "liftoff-item-id";
    public const string LabelAttempt = "liftoff-attempt";
    public const string LabelRun = "liftoff-run-id";
    public const string LabelQueue = "liftoff-queue";
    public const string LabelAgent = "liftoff-agent";

    /// <summary>Vertex label values: lowercase letters, digits, '_' and '-', at most 63 characters.</summary>
    public static string LabelValue(string value)
    {
        var label = new StringBuilder();
        foreach (var c in value.ToLowerInvariant())
        {
            label.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-' ? c : '-');
        }

        return label.Length > 63 ? label.ToString(0, 63) : label.ToString();
    }

    public async Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var spec = context.Spec;
        var image = await builder.PrepareAsync(context, push: true, cancellationToken);
        var config = JsonNode.Parse(spec.ResourceConfig.ValueKind == JsonValueKind.Object ? spec.ResourceConfig.GetRawText() : "{}")!.AsObject();
        var problems = VertexSchema.Validate(config, "resource_config", complete: true);
        if (problems.Count > 0)
        {
            throw new LaunchException(ItemPhases.Submit, "the resource config breaks CustomJobSpec's contract: " + string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}")));
        }

        var jobSpec = VertexSchema.JobSpec(config);
        var environment = new JsonArray();
        var launch = RemoteEnvironment.For(context);
        foreach (var (variable, value) in launch)
        {
            environment.Add(new JsonObject { ["name"] = variable, ["value"] = value });
        }

        // The queue's and item's own variables, secrets resolved only here; the launch's variables win a clash.
        foreach (var (variable, value) in config[VertexSchema.Env] as JsonObject ?? [])
        {
            if (!launch.ContainsKey(variable) && value is JsonValue leaf)
            {
                var text = leaf.GetValueKind() == JsonValueKind.String ? leaf.GetValue<string>() : leaf.ToJsonString();
                environment.Add(new JsonObject { ["name"] = variable, ["value"] = SecretValues.Resolve(text, spec, variable) });
            }
        }

        foreach (var pool in jobSpec["workerPoolSpecs"]!.AsArray().OfType<JsonObject>().Where(p => p.Count > 0))
        {
            var container = new JsonObject { ["imageUri"] = image.Reference, ["env"] = environment.DeepClone() };
            if (spec.Entrypoint.Count > 0)
            {
                container["command"] = new JsonArray([.. spec.Entrypoint.Select(e => (JsonNode)e)]);
            }

            pool["containerSpec"] = container;
        }

        var job = new JsonObject
        {
            ["displayName"] = "liftoff-" + spec.RunId,
            ["jobSpec"] = jobSpec,
            ["labels"] = new JsonObject
            {
                [LabelItem] = LabelValue(spec.ItemId),
                [LabelAttempt] = spec.Attempt.ToString(CultureInfo.InvariantCulture),
                [LabelRun] = LabelValue(spec.RunId),
                [LabelQueue] = LabelValue(spec.Queue),
                [LabelAgent] = LabelValue(options.Name),
            },
        };

        JsonObject created;
        try
        {
            created = await client.CreateCustomJobAsync(job, cancellationToken);
        }
        catch (VertexException ex)
        {
            throw new LaunchException(ItemPhases.Submit, $"Vertex AI refused the custom job: {Redaction.Apply(ex.Message, spec.Environment, spec.Secrets)}", ex);
        }

        var name = (string)created["name"]!;
        await context.Console.WriteAsync("stderr", $"[liftoff agent] submitted Vertex AI custom job {name} ({image.Reference})", cancellationToken);
        return new VertexWorkload(name, client, context.Console, time);
    }

    public async Task<IReadOnlyList<LeftoverWorkload>> FindLeftoversAsync(string agentName, CancellationToken cancellationToken)
    {
        if (!client.Configured)
        {
            return [];
        }

        // Jobs still going, and ended ones of the last day (perhaps ended while this agent was down, so unreported).
        var since = time.GetUtcNow().AddDays(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var filter = $"labels.{LabelAgent}=\"{LabelValue(agentName)}\" AND (state=\"JOB_STATE_PENDING\" OR state=\"JOB_STATE_QUEUED\" OR state=\"JOB_STATE_RUNNING\" OR state=\"JOB_STATE_CANCELLING\" OR update_time>\"{since}\")";
        var leftovers = new List<LeftoverWorkload>();
        string? page = null;
        do
        {
            var listed = await client.ListCustomJobsAsync(filter, page, cancellationToken);
            foreach (var job in (listed["customJobs"]?.AsArray() ?? []).OfType<JsonObject>())
            {
                var labels = job["labels"] as JsonObject ?? [];
                if ((string?)labels[LabelItem] is not { } item || (string?)labels[LabelRun] is not { } run
                    || !int.TryParse((string?)labels[LabelAttempt], CultureInfo.InvariantCulture, out var attempt))
                {
                    continue;
                }

                var environment = (job["jobSpec"]?["workerPoolSpecs"]?[0]?["containerSpec"]?["env"]?.AsArray() ?? [])
                    .OfType<JsonObject>().Where(e => e["name"] is not null && e["value"] is not null)
                    .ToDictionary(e => (string)e["name"]!, e => (string)e["value"]!, StringComparer.Ordinal);
                leftovers.Add(new LeftoverWorkload(item, attempt, run, (string?)labels[LabelQueue] ?? "", Resources.Vertex, (string)job["name"]!, environment));
            }

            page = (string?)listed["nextPageToken"] is { Length: > 0 } next ? next : null;
        }
        while (page is not null);

        return leftovers;
    }

    public Task<ILaunchedWorkload> AttachAsync(LeftoverWorkload leftover, RunConsole console, CancellationToken cancellationToken) =>
        Task.FromResult<ILaunchedWorkload>(new VertexWorkload(leftover.Handle, client, console, time));

    public async Task RemoveAsync(LeftoverWorkload leftover, CancellationToken cancellationToken)
    {
        // Custom jobs are kept by Vertex; one that is still going is cancelled.
        await using var workload = new VertexWorkload(leftover.Handle, client, console: null, time);
        await workload.StopAsync(TimeSpan.Zero, cancellationToken);
    }
}
