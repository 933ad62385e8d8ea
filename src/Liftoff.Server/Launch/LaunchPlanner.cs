using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Artifacts;
using Liftoff.Core.Jobs;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Auth;
using Liftoff.Server.Secrets;
using Liftoff.Server.Storage;
using Liftoff.Targets;

namespace Liftoff.Server.Launch;

/// <summary>
/// Turns a launch request into a launch item, refusing at enqueue everything the agent would otherwise discover late
/// (DESIGN.md §1), and turns a claimed item into the spec its agent runs.
/// </summary>
internal sealed class LaunchPlanner(JobVersions jobs, TargetCatalog targets, SecretVault secrets)
{
    /// <summary>
    /// The run config becomes LIFTOFF_CONFIG as written here: a job, a dry-run and a person reading the variable see
    /// <c>&lt;</c> and <c>é</c>, not <c>\u003C</c> escapes meant for JSON inside HTML (no page embeds it).
    /// </summary>
    private static readonly JsonSerializerOptions ConfigWriting = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public const string DefaultProject = "uncategorized";

    /// <summary>The item to store, or the fields that are wrong.</summary>
    public async Task<(ItemRecord? Item, IReadOnlyList<FieldError> Errors)> PlanAsync(Acting acting, Caller caller, QueueRecord queue, EnqueueRequest request, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        var project = request.Project ?? DefaultProject;
        if (!Names.IsValid(project))
        {
            errors.Add(new FieldError("project", $"'{project}' is not a valid project name: {Names.Rule}"));
        }

        var priority = Priorities.All.ToList().IndexOf(request.Priority ?? Priorities.Medium);
        if (priority < 0)
        {
            errors.Add(new FieldError("priority", $"'{request.Priority}' is not a priority: {string.Join(", ", Priorities.All)}"));
        }

        if (request.Entrypoint is { } entrypoint && (entrypoint.Count == 0 || entrypoint.Any(string.IsNullOrEmpty)))
        {
            errors.Add(new FieldError("entrypoint", "an entrypoint override is a non-empty list of non-empty arguments"));
        }

        if (request.IdempotencyKey is { Length: 0 or > Limits.IdempotencyKey })
        {
            errors.Add(new FieldError("idempotency_key", $"an idempotency key is 1 to {Limits.IdempotencyKey} characters"));
        }

        if (Limits.TooLarge(request.Config, Limits.ConfigBytes, "config") is { } configSize)
        {
            errors.Add(new FieldError("config", configSize));
        }

        var queuePolicy = RetryPolicies.Parse(queue.RetryPolicyJson);
        if (request.RetryPolicy is { } retryPolicy)
        {
            var shape = RetryPolicies.Validate(retryPolicy, "retry_policy");
            errors.AddRange(shape.Count > 0 ? shape : RetryPolicies.CheckWithin(retryPolicy, queuePolicy, "retry_policy"));
        }

        if (request.MaxRunSeconds is { } maxRun && (maxRun < 1 || maxRun > (queue.MaxRunSeconds ?? Limits.MaxRunSeconds)))
        {
            errors.Add(new FieldError("max_run_seconds", queue.MaxRunSeconds is { } queueMax
                ? $"max_run_seconds is 1 to {queueMax} (the queue's max run time)"
                : $"max_run_seconds is 1 to {Limits.MaxRunSeconds}"));
        }

        JobVersion? job = null;
        if (ArtifactRefs.Parse(request.Job) is not { } reference)
        {
            errors.Add(new FieldError("job", "job is required: NAME, NAME:ALIAS or NAME:vK"));
        }
        else if (errors.Count == 0)
        {
            job = await jobs.FindAsync(acting.EntityId, project, reference.Name, reference.Reference, cancellationToken);
            if (job is null)
            {
                errors.Add(new FieldError("job", $"job '{reference.Name}:{reference.Reference}' not found in project '{project}'"));
            }
            else if (job.Definition.SourceType == JobSourceTypes.Image && queue.Resource == Resources.LocalProcess)
            {
                errors.Add(new FieldError("job", $"'{job.Reference}' is an image job, and queue '{queue.Name}' runs local processes; put it on a docker, kubernetes, sagemaker or vertex queue"));
            }
        }

        if (job is null)
        {
            return (null, errors);
        }

        var schema = job.Definition.InputTypes is { ValueKind: JsonValueKind.Object } inputs ? inputs : JobDefinitions.AnyConfig;
        var config = RunConfigs.Resolve(schema, request.Config, "config", errors);

        JsonObject? resource = null;
        if (request.ResourceArgs is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) })
        {
            errors.Add(new FieldError("resource_args", $"resource args must be a JSON object of {queue.Resource} settings"));
        }
        else
        {
            using var defaults = JsonDocument.Parse(queue.ConfigJson);
            resource = ResourceConfigs.Merge(defaults.RootElement, request.ResourceArgs);
            errors.AddRange(targets.Validate(queue.Resource, resource, "resource_args"));
            errors.AddRange(targets.ValidateOverrides(queue.Resource, defaults.RootElement, request.ResourceArgs, "resource_args"));
            if (targets.RefuseJob(queue.Resource, job.Definition.SourceType, resource) is { } refusal)
            {
                errors.Add(new FieldError("job", $"'{job.Reference}': {refusal}"));
            }

            errors.AddRange(Macros.FindUnknown(resource, queue.TemplateVariables.Select(v => v.Name).ToHashSet(StringComparer.Ordinal), "resource_args"));
            errors.AddRange(await CheckSecretsAsync(acting, queue, request.ResourceArgs, cancellationToken));
        }

        var templateValues = TemplateVariables.Resolve(queue.TemplateVariables, request.TemplateValues, "template_values", errors);
        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var item = new ItemRecord(
            Id: "item_" + RunIds.NewId() + RunIds.NewId(), Queue: queue.Name, Entity: acting.Entity, State: ItemStates.Pending,
            Priority: priority, Attempt: 1, MaxAttempts: queue.MaxAttempts, Job: job.Reference,
            JobDefinitionJson: JsonSerializer.Serialize(job.Definition, LiftoffJsonContext.Default.JobDefinition), Project: project, RunId: null,
            ConfigJson: config.ToJsonString(ConfigWriting), ResourceArgsJson: request.ResourceArgs is { ValueKind: JsonValueKind.Object } args ? args.GetRawText() : "{}",
            TemplateValuesJson: JsonSerializer.Serialize(templateValues, LiftoffJsonContext.Default.IReadOnlyDictionaryStringString),
            EntrypointJson: request.Entrypoint is { } e ? JsonSerializer.Serialize(e, LiftoffJsonContext.Default.IReadOnlyListString) : null,
            Phase: null, Error: null, AgentId: null, IdempotencyKey: request.IdempotencyKey, CreatedAt: now, ClaimedAt: null,
            StartedAt: null, EndedAt: null, LeaseExpiresAt: null, CancelRequested: false, SubmittedBy: caller.Name,
            RetryPolicyJson: RetryPolicies.Serialize(RetryPolicies.Over(queuePolicy, request.RetryPolicy)), MaxRunSeconds: request.MaxRunSeconds ?? queue.MaxRunSeconds);
        return (item, errors);
    }

    /// <summary>
    /// Whether two items planned under one idempotency key launch the same thing: a client's retry does; a different
    /// request reusing the key (or the same one after its job alias moved to another version) does not.
    /// </summary>
    public static bool IsSameLaunch(ItemRecord earlier, ItemRecord again) =>
        earlier.Queue == again.Queue && earlier.Project == again.Project && earlier.Job == again.Job && earlier.Priority == again.Priority
        && earlier.ConfigJson == again.ConfigJson && earlier.ResourceArgsJson == again.ResourceArgsJson
        && earlier.TemplateValuesJson == again.TemplateValuesJson && earlier.EntrypointJson == again.EntrypointJson
        && earlier.RetryPolicyJson == again.RetryPolicyJson && earlier.MaxRunSeconds == again.MaxRunSeconds;

    /// <summary>
    /// Every <c>${secret:NAME}</c> reference stands in an environment value of the target and names a secret that its
    /// owner holds: the item's owner's entity for the item's own resource args, the queue owner's for the queue's config.
    /// A queue is reachable only through its owner's keys today, so both are the caller's entity; with shared (team)
    /// queues, the queue's references resolve in the queue owner's entity and the item's in the item owner's.
    /// </summary>
    private async Task<IReadOnlyList<FieldError>> CheckSecretsAsync(Acting acting, QueueRecord queue, JsonElement? overrides, CancellationToken cancellationToken)
    {
        var references = new List<(string Field, SecretReference Reference)>();
        if (JsonNode.Parse(queue.ConfigJson) is JsonObject queueConfig)
        {
            references.AddRange(SecretReferences.Find(queueConfig, "").Select(r => ("queue.config", r)));
        }

        if (overrides is { ValueKind: JsonValueKind.Object } args)
        {
            references.AddRange(SecretReferences.Find(JsonNode.Parse(args.GetRawText())!, "").Select(r => ("resource_args", r)));
        }

        var errors = references.SelectMany(r => CheckSecretPlacement(targets, queue.Resource, [r.Reference], r.Field)).ToList();
        if (references.Count == 0 || errors.Count > 0)
        {
            return errors;
        }

        var held = await secrets.NamesAsync(acting.EntityId, cancellationToken);
        errors.AddRange(references.Where(r => !held.Contains(r.Reference.Name)).Select(r => new FieldError(r.Field + r.Reference.Path,
            $"secret '{r.Reference.Name}' is not set for '{acting.Entity}'; set it with 'liftoff secret set {r.Reference.Name}'")));
        return errors;
    }

    /// <summary>
    /// References (found with paths from the config's root) outside the target's environment values, and malformed
    /// secret names, by path under <paramref name="field"/>.
    /// </summary>
    public static IEnumerable<FieldError> CheckSecretPlacement(TargetCatalog targets, string resource, IEnumerable<SecretReference> references, string field)
    {
        var target = targets.Find(resource);
        foreach (var reference in references)
        {
            if (!SecretReferences.IsValidName(reference.Name))
            {
                yield return new FieldError(field + reference.Path, $"'{reference.Name}' is not a secret name: {SecretReferences.NameRule}");
            }
            else if (target is null || !target.IsEnvironmentValue(reference.Path))
            {
                yield return new FieldError(field + reference.Path,
                    $"{SecretReferences.Reference(reference.Name)} may stand only in an environment value, where the agent can deliver it safely; {resource} takes them in {target?.EnvironmentValues}");
            }
        }
    }

    /// <summary>The names of the secrets a claimed item's effective config references.</summary>
    public static IReadOnlySet<string> ReferencedSecrets(ItemRecord item, QueueRecord queue)
    {
        using var defaults = JsonDocument.Parse(queue.ConfigJson);
        using var args = JsonDocument.Parse(item.ResourceArgsJson);
        return SecretReferences.Find(ResourceConfigs.Merge(defaults.RootElement, args.RootElement), "").Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>What the agent runs for one attempt: the effective resource config and the run's environment.</summary>
    public static LaunchSpec Spec(ItemRecord item, QueueRecord queue, string runId, string runName, string apiKey)
    {
        var definition = JsonSerializer.Deserialize(item.JobDefinitionJson, LiftoffJsonContext.Default.JobDefinition)!;
        var templateValues = JsonSerializer.Deserialize(item.TemplateValuesJson, LiftoffJsonContext.Default.IReadOnlyDictionaryStringString)!;
        using var defaults = JsonDocument.Parse(queue.ConfigJson);
        using var args = JsonDocument.Parse(item.ResourceArgsJson);
        var imageUri = definition.SourceType == JobSourceTypes.Image && definition.Source is { } source && source.TryGetProperty("image", out var image) ? image.GetString() : null;
        var macros = new MacroValues(item.Project, item.Entity, queue.Name, runId, runName, imageUri, item.Entity);
        var resource = Macros.Substitute(ResourceConfigs.Merge(defaults.RootElement, args.RootElement), macros, templateValues);
        var queueResource = Macros.Substitute(ResourceConfigs.Merge(defaults.RootElement, null), macros, templateValues);
        var entrypoint = item.EntrypointJson is { } e ? JsonSerializer.Deserialize(e, LiftoffJsonContext.Default.IReadOnlyListString)! : definition.Entrypoint!;
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["LIFTOFF_API_KEY"] = apiKey,
            ["LIFTOFF_RUN_ID"] = runId,
            ["LIFTOFF_RUN_NAME"] = runName,
            ["LIFTOFF_PROJECT"] = item.Project,
            ["LIFTOFF_ENTITY"] = item.Entity,
            ["LIFTOFF_CONFIG"] = item.ConfigJson,
            ["LIFTOFF_QUEUE"] = queue.Name,
            ["LIFTOFF_ITEM_ID"] = item.Id,

            // The same run for wandb-instrumented jobs (wandb launch's environment); the agent adds WANDB_BASE_URL.
            ["WANDB_API_KEY"] = apiKey,
            ["WANDB_RUN_ID"] = runId,
            ["WANDB_NAME"] = runName,
            ["WANDB_PROJECT"] = item.Project,
            ["WANDB_ENTITY"] = item.Entity,
            ["WANDB_CONFIG"] = item.ConfigJson,
            ["WANDB_LAUNCH"] = "True",
            ["WANDB_LAUNCH_QUEUE_NAME"] = queue.Name,
            ["WANDB_LAUNCH_QUEUE_ENTITY"] = item.Entity,
            ["WANDB_LAUNCH_TRACE_ID"] = item.Id,
        };
        return new LaunchSpec(item.Id, item.Attempt, queue.Name, queue.Resource, item.Entity, item.Project, runId, runName, item.Job,
            JsonSerializer.SerializeToElement(definition, LiftoffJsonContext.Default.JobDefinition), entrypoint,
            Element(item.ConfigJson), JsonSerializer.SerializeToElement(resource, LiftoffJsonContext.Default.JsonNode), environment,
            JsonSerializer.SerializeToElement(queueResource, LiftoffJsonContext.Default.JsonNode), MaxRunSeconds: item.MaxRunSeconds);
    }

    private static JsonElement Element(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
