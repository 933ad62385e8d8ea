using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Targets.Builders;

namespace Liftoff.Targets.SageMaker;

/// <summary>
/// The <c>sagemaker</c> target: each launch is a SageMaker training job (CreateTrainingJob) running the job's image. The
/// resource config gives the CreateTrainingJob members (<see cref="SageMakerSchema"/>); the agent sets TrainingJobName
/// from the run id, the image, the entrypoint, the run's variables (Environment), the run config (HyperParameters) and
/// tags naming the item, attempt, run, queue and agent, which is how a restarted agent finds its jobs again.
/// </summary>
internal sealed class SageMakerRunner(AgentOptions options, IImageBuilder builder, SageMakerClients clients, TimeProvider time) : ILaunchRunner, IReattachableRunner
{
    public const string TagItem = "liftoff:item-id";
    public const string TagAttempt = "liftoff:attempt";
    public const string TagRun = "liftoff:run-id";
    public const string TagQueue = "liftoff:queue";
    public const string TagAgent = "liftoff:agent";

    // CreateTrainingJob's documented limits, which the published model does not carry.
    private const int MaxEnvironmentValue = 512;
    private const int MaxHyperParameters = 100;
    private const int MaxHyperParameterKey = 256;
    private const int MaxHyperParameterValue = 2500;

    /// <summary>SageMaker's rule for TrainingJobName: <c>^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}</c>, unique in the account and region.</summary>
    public static string TrainingJobName(string runId)
    {
        var name = new StringBuilder("liftoff-");
        foreach (var c in runId)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        }

        var text = name.ToString();
        text = text.Length > 63 ? text[..63] : text;
        return text.TrimEnd('-');
    }

    public async Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var spec = context.Spec;
        var image = await builder.PrepareAsync(context, push: true, cancellationToken);
        var name = TrainingJobName(spec.RunId);
        var request = JsonNode.Parse(spec.ResourceConfig.ValueKind == JsonValueKind.Object ? spec.ResourceConfig.GetRawText() : "{}")!.AsObject();
        var problems = SageMakerSchema.Validate(request, "resource_config", complete: true);
        if (problems.Count > 0)
        {
            throw new LaunchException(ItemPhases.Submit, "the resource config breaks CreateTrainingJob's contract: " + string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}")));
        }

        request["TrainingJobName"] = name;
        var algorithm = request["AlgorithmSpecification"] as JsonObject ?? [];
        request["AlgorithmSpecification"] = algorithm;
        algorithm["TrainingImage"] = image.Reference;
        algorithm["TrainingInputMode"] ??= "File";
        if (spec.Entrypoint.Count > 0)
        {
            algorithm["ContainerEntrypoint"] = new JsonArray([.. spec.Entrypoint.Select(e => (JsonNode)e)]);
        }

        var environment = request["Environment"] as JsonObject ?? [];
        request["Environment"] = environment;
        foreach (var (key, value) in environment.ToList())
        {
            if (value is JsonValue text && text.TryGetValue<string>(out var configured))
            {
                environment[key] = SecretValues.Resolve(configured, spec, key);
            }
        }

        var variables = RemoteEnvironment.For(context);
        if (variables.GetValueOrDefault("LIFTOFF_CONFIG") is { Length: > MaxEnvironmentValue } config)
        {
            // SageMaker refuses an Environment value over 512 characters; the SDK's init then reads the launch's config
            // from the pending run on the server instead (a wandb client reads WANDB_CONFIG, gone with it).
            variables.Remove("LIFTOFF_CONFIG");
            variables.Remove("WANDB_CONFIG");
            await context.Console.WriteAsync("stderr", $"[liftoff agent] the run config ({config.Length} characters) is over SageMaker's {MaxEnvironmentValue}-character limit for an environment value: the job's init takes it from the server", cancellationToken);
        }

        foreach (var (key, value) in variables)
        {
            environment[key] = value;
        }

        var hyperParameters = HyperParameters(spec.Config);
        if (hyperParameters.Count > MaxHyperParameters || hyperParameters.Any(p => p.Key.Length > MaxHyperParameterKey || ((string?)p.Value)?.Length > MaxHyperParameterValue))
        {
            await context.Console.WriteAsync("stderr", $"[liftoff agent] the run config does not fit SageMaker's HyperParameters (at most {MaxHyperParameters} entries, keys of {MaxHyperParameterKey} and values of {MaxHyperParameterValue} characters): it is not passed as hyperparameters; the run's config holds it", cancellationToken);
        }
        else if (hyperParameters.Count > 0)
        {
            request["HyperParameters"] = hyperParameters;
        }

        var tags = request["Tags"] as JsonArray ?? [];
        request["Tags"] = tags;
        foreach (var (key, value) in new[]
        {
            (TagItem, spec.ItemId), (TagAttempt, spec.Attempt.ToString(CultureInfo.InvariantCulture)), (TagRun, spec.RunId),
            (TagQueue, spec.Queue), (TagAgent, options.Name),
        })
        {
            tags.Add(new JsonObject { ["Key"] = key, ["Value"] = value });
        }

        try
        {
            await clients.SageMaker.CallAsync("CreateTrainingJob", request, cancellationToken);
        }
        catch (AwsException ex)
        {
            throw new LaunchException(ItemPhases.Submit, $"SageMaker refused training job {name}: {Redaction.Apply(ex.Message, spec.Environment, spec.Secrets)}", ex);
        }

        await context.Console.WriteAsync("stderr", $"[liftoff agent] submitted SageMaker training job {name} ({image.Reference})", cancellationToken);
        return new SageMakerWorkload(name, clients, context.Console, clients.PollInterval, time);
    }

    public async Task<IReadOnlyList<LeftoverWorkload>> FindLeftoversAsync(string agentName, CancellationToken cancellationToken)
    {
        if (!clients.Configured)
        {
            return [];
        }

        // Jobs still running, and jobs that ended lately (perhaps while this agent was down, so their end is unreported).
        var since = time.GetUtcNow().AddDays(-1).ToUnixTimeSeconds();
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var filter in new JsonObject[]
        {
            new() { ["StatusEquals"] = "InProgress" }, new() { ["StatusEquals"] = "Stopping" }, new() { ["LastModifiedTimeAfter"] = since },
        })
        {
            string? next = null;
            do
            {
                var page = (JsonObject)filter.DeepClone();
                page["NameContains"] = "liftoff-";
                page["MaxResults"] = 100;
                if (next is not null)
                {
                    page["NextToken"] = next;
                }

                var listed = await clients.SageMaker.CallAsync("ListTrainingJobs", page, cancellationToken);
                foreach (var summary in listed["TrainingJobSummaries"]?.AsArray() ?? [])
                {
                    names.Add((string)summary!["TrainingJobName"]!);
                }

                next = (string?)listed["NextToken"];
            }
            while (next is not null);
        }

        var leftovers = new List<LeftoverWorkload>();
        foreach (var name in names)
        {
            var job = await clients.SageMaker.CallAsync("DescribeTrainingJob", new JsonObject { ["TrainingJobName"] = name }, cancellationToken);
            var tags = await clients.SageMaker.CallAsync("ListTags", new JsonObject { ["ResourceArn"] = (string)job["TrainingJobArn"]! }, cancellationToken);
            var byKey = (tags["Tags"]?.AsArray() ?? []).ToDictionary(t => (string)t!["Key"]!, t => (string?)t!["Value"] ?? "", StringComparer.Ordinal);
            if (byKey.GetValueOrDefault(TagAgent) != agentName
                || !byKey.TryGetValue(TagItem, out var item) || !byKey.TryGetValue(TagRun, out var run)
                || !int.TryParse(byKey.GetValueOrDefault(TagAttempt), CultureInfo.InvariantCulture, out var attempt))
            {
                continue;
            }

            var environment = (job["Environment"]?.AsObject() ?? []).ToDictionary(e => e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
            leftovers.Add(new LeftoverWorkload(item, attempt, run, byKey.GetValueOrDefault(TagQueue) ?? "", Resources.SageMaker, name, environment));
        }

        return leftovers;
    }

    public Task<ILaunchedWorkload> AttachAsync(LeftoverWorkload leftover, RunConsole console, CancellationToken cancellationToken) =>
        Task.FromResult<ILaunchedWorkload>(new SageMakerWorkload(leftover.Handle, clients, console, clients.PollInterval, time));

    public async Task RemoveAsync(LeftoverWorkload leftover, CancellationToken cancellationToken)
    {
        // Training jobs cannot be deleted; one that has ended is left as SageMaker keeps it.
        await using var workload = new SageMakerWorkload(leftover.Handle, clients, console: null, clients.PollInterval, time);
        await workload.StopAsync(TimeSpan.Zero, cancellationToken);
    }

    /// <summary>The run config's top-level values as SageMaker hyperparameters (a map of strings; non-strings as JSON).</summary>
    private static JsonObject HyperParameters(JsonElement config)
    {
        var result = new JsonObject();
        if (config.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in config.EnumerateObject())
            {
                result[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText();
            }
        }

        return result;
    }
}

/// <summary>
/// The SageMaker and CloudWatch Logs clients of one agent, made from its <c>environment</c> settings when first needed,
/// so an agent without an AWS environment still starts (and refuses sagemaker items with the reason).
/// </summary>
internal sealed class SageMakerClients(AgentOptions options) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly Lock _lock = new();
    private (AwsJsonClient SageMaker, AwsJsonClient Logs)? _clients;

    public bool Configured => options.Environment is { Type: "aws", Region.Length: > 0 };

    public TimeSpan PollInterval => options.Environment?.PollInterval ?? TimeSpan.FromSeconds(10);

    public AwsJsonClient SageMaker => Clients().SageMaker;

    public AwsJsonClient Logs => Clients().Logs;

    public void Dispose() => _http.Dispose();

    private (AwsJsonClient SageMaker, AwsJsonClient Logs) Clients()
    {
        lock (_lock)
        {
            if (_clients is { } made)
            {
                return made;
            }

            if (options.Environment is not { Type: "aws", Region: { Length: > 0 } region } environment)
            {
                throw new LaunchException(ItemPhases.Submit, "the sagemaker target needs 'environment: {type: aws, region: ...}' in the agent config");
            }

            try
            {
                _clients = (
                    new AwsJsonClient(_http, AwsServiceModel.SageMaker, region, Endpoint(environment.SagemakerEndpoint), environment.Account),
                    new AwsJsonClient(_http, AwsServiceModel.CloudWatchLogs, region, Endpoint(environment.LogsEndpoint), environment.Account));
            }
            catch (Exception ex) when (ex is AwsException or Amazon.Runtime.AmazonClientException)
            {
                throw new LaunchException(ItemPhases.Submit, $"no AWS credentials for the sagemaker target: {ex.Message}", ex);
            }

            return _clients.Value;
        }
    }

    private static Uri? Endpoint(string? value) => value is null ? null : new Uri(value.EndsWith('/') ? value : value + "/");
}
