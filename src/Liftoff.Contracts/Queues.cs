using System.Text.Json;

namespace Liftoff.Contracts;

/// <summary>The names of the targets this release has; the server accepts the targets registered in Liftoff.Targets.</summary>
public static class Resources
{
    public const string LocalProcess = "local-process";
    public const string Docker = "docker";
    public const string Kubernetes = "kubernetes";
    public const string SageMaker = "sagemaker";
    public const string Vertex = "vertex";
}

public static class Priorities
{
    public const string Critical = "critical";
    public const string High = "high";
    public const string Medium = "medium";
    public const string Low = "low";

    /// <summary>Highest first; the index is the stored rank.</summary>
    public static readonly IReadOnlyList<string> All = [Critical, High, Medium, Low];
}

/// <summary>The launch item life cycle of DESIGN.md §3.</summary>
public static class ItemStates
{
    public const string Pending = "pending";
    public const string Leased = "leased";
    public const string Starting = "starting";
    public const string Running = "running";
    public const string Stopping = "stopping";
    public const string Finished = "finished";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
}

/// <summary>Where a failed item failed.</summary>
public static class ItemPhases
{
    public const string Build = "build";
    public const string Pull = "pull";
    public const string Submit = "submit";
    public const string Run = "run";
    public const string Start = "start";
}

/// <summary>
/// What a failed attempt's failure was, as whoever saw it classed it: the agent (from what its target reported) or the
/// server (lease expiry, start timeout). A queue's <see cref="RetryPolicy"/> gives attempts per class.
/// </summary>
public static class FailureClasses
{
    /// <summary>The machinery failed, not the job: agent or node lost, pod evicted, a transient registry or cloud error, a signal from outside.</summary>
    public const string Infrastructure = "infrastructure";

    /// <summary>The target took the capacity back (spot reclaim).</summary>
    public const string Preemption = "preemption";

    /// <summary>The workload exited non-zero or never called <c>init</c>.</summary>
    public const string User = "user";

    /// <summary>The target refused the workload: a bad manifest, a missing secret, an image that does not exist.</summary>
    public const string Config = "config";

    /// <summary>Past the queue's start timeout or the item's max run time.</summary>
    public const string Timeout = "timeout";

    public const string Cancelled = "cancelled";

    public static readonly IReadOnlyList<string> All = [Infrastructure, Preemption, User, Config, Timeout, Cancelled];

    /// <summary>The classes a retry policy budgets; a cancel is never retried.</summary>
    public static readonly IReadOnlyList<string> Retryable = [Infrastructure, Preemption, User, Config, Timeout];
}

/// <summary>Exponential backoff between attempts: <c>initial_seconds × 2^(n-1)</c>, at most <c>max_seconds</c>, less up to <c>jitter</c> of it at random.</summary>
public sealed record BackoffPolicy(double? InitialSeconds = null, double? MaxSeconds = null, double? Jitter = null);

/// <summary>
/// How a queue (or, within the queue's bounds, an item) retries failed attempts: extra attempts per failure class,
/// exit codes retried as infrastructure failures, and the backoff before a retried item is claimable again.
/// </summary>
public sealed record RetryPolicy(
    IReadOnlyDictionary<string, int>? Attempts = null,
    IReadOnlyList<int>? RetryOnExitCodes = null,
    BackoffPolicy? Backoff = null);

/// <summary>
/// A queue's template variable: <c>integer</c> or <c>number</c> with optional bounds, or <c>string</c> with optional
/// choices. Written on the CLI as <c>name=integer:1..8</c>, <c>name=number:0.1..</c>, <c>name=string:a|b|c</c>.
/// </summary>
public sealed record TemplateVariable(string Name, string Type, double? Min = null, double? Max = null, IReadOnlyList<string>? Choices = null);

public sealed record CreateQueueRequest(
    string Name,
    string Resource,
    JsonElement? Config = null,
    IReadOnlyList<TemplateVariable>? TemplateVariables = null,
    int? MaxAttempts = null,
    int? StartTimeoutSeconds = null,
    IReadOnlyList<string>? AllowedMembers = null,
    RetryPolicy? RetryPolicy = null,
    int? MaxRunSeconds = null);

/// <summary><see cref="AllowedMembers"/>: on a team's queue restricted to some members, who besides its admins may launch onto it.</summary>
public sealed record QueueInfo(
    string Name,
    string Entity,
    string Resource,
    JsonElement Config,
    IReadOnlyList<TemplateVariable> TemplateVariables,
    int MaxAttempts,
    int StartTimeoutSeconds,
    DateTimeOffset CreatedAt,
    long Depth,
    IReadOnlyDictionary<string, long> Items,
    double? OldestPendingSeconds,
    IReadOnlyList<AgentInfo> Agents,
    IReadOnlyList<string>? AllowedMembers = null,
    RetryPolicy? RetryPolicy = null,
    int? MaxRunSeconds = null,
    bool Paused = false);

public sealed record QueueList(IReadOnlyList<QueueInfo> Queues);

/// <summary>
/// A launch request. <see cref="Job"/> is <c>name</c>, <c>name:alias</c> or <c>name:vK</c>. <see cref="Config"/> overrides
/// the job's run config defaults; <see cref="ResourceArgs"/> is deep-merged over the queue's resource config.
/// </summary>
public sealed record EnqueueRequest(
    string? Job = null,
    string? Project = null,
    JsonElement? Config = null,
    JsonElement? ResourceArgs = null,
    IReadOnlyDictionary<string, JsonElement>? TemplateValues = null,
    string? Priority = null,
    IReadOnlyList<string>? Entrypoint = null,
    string? IdempotencyKey = null,
    RetryPolicy? RetryPolicy = null,
    int? MaxRunSeconds = null);

public sealed record ItemInfo(
    string Id,
    string Queue,
    string Entity,
    string State,
    string Priority,
    int Attempt,
    int MaxAttempts,
    string Job,
    string Project,
    string? RunId,
    JsonElement Config,
    JsonElement ResourceArgs,
    IReadOnlyDictionary<string, JsonElement> TemplateValues,
    IReadOnlyList<string>? Entrypoint,
    string? Phase,
    string? Error,
    string? AgentId,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ClaimedAt,
    DateTimeOffset? EndedAt,
    DateTimeOffset? LeaseExpiresAt,
    bool CancelRequested,
    string? WaitingReason = null,
    string? FailureClass = null,
    DateTimeOffset? ClaimableAt = null,
    RetryPolicy? RetryPolicy = null,
    int? MaxRunSeconds = null,
    ItemPlace? Place = null);

/// <summary>Why a pending item is not claimed yet, most telling first (<see cref="ItemPlace.Reason"/>).</summary>
public static class WaitReasons
{
    public const string QueuePaused = "queue_paused";
    public const string BackingOff = "backing_off";
    public const string NoAgent = "no_agent";
    public const string HigherPriority = "higher_priority";
    public const string AgentsBusy = "agents_busy";
    public const string ItemsAhead = "items_ahead";

    /// <summary>First in line with an agent free: the next claim takes it.</summary>
    public const string Next = "next";
}

/// <summary>
/// A pending item's place in line: <see cref="Position"/> 1 is what the queue's next claim takes (items backing off do
/// not count; one's own position is where it stands once its backoff ends), <see cref="Reason"/> one of
/// <see cref="WaitReasons"/>, <see cref="Message"/> the reason for people ("3rd in line on gpu; 2 agents polling, both
/// busy"), <see cref="Until"/> the end of a backoff.
/// </summary>
public sealed record ItemPlace(long Position, string Reason, string Message, DateTimeOffset? Until = null);

/// <summary>
/// A move of a pending item: <see cref="To"/> <c>top</c> or <c>bottom</c> of its priority level, or <see cref="Before"/> or
/// <see cref="After"/> another pending item (taking that item's priority); and/or a new <see cref="Priority"/>, another
/// <see cref="Queue"/> of the same resource.
/// </summary>
public static class MoveTargets
{
    public const string Top = "top";
    public const string Bottom = "bottom";
}

public sealed record MoveItemRequest(string? To = null, string? Before = null, string? After = null, string? Priority = null, string? Queue = null);

/// <summary>
/// One entry of an item's history (append-only): the state it entered, for which attempt, and for a failed attempt
/// its class and message. A retried attempt's entry is <c>pending</c> with <see cref="ClaimableAt"/>, the end of its backoff.
/// </summary>
public sealed record ItemEvent(
    DateTimeOffset At,
    string State,
    int Attempt,
    string? FailureClass,
    string? Phase,
    string? Message,
    string? RunId,
    string? AgentId,
    DateTimeOffset? ClaimableAt);

public sealed record ItemHistory(string ItemId, IReadOnlyList<ItemEvent> Events);

public sealed record ItemList(IReadOnlyList<ItemInfo> Items, string? NextCursor);

/// <summary>
/// What <c>launch --dry-run</c> shows and what the agent receives: everything resolved but secrets. Environment values
/// keep their <c>${secret:NAME}</c> references; only a claim carries <see cref="Secrets"/>, the values by name, for the
/// agent to deliver to the workload the target's safe way and to redact from everything it reports.
/// <see cref="QueueResourceConfig"/> is the queue's own config alone (macros substituted): what its owner grants beyond
/// what an item may set (DESIGN.md §1).
/// </summary>
public sealed record LaunchSpec(
    string ItemId,
    int Attempt,
    string Queue,
    string Resource,
    string Entity,
    string Project,
    string RunId,
    string RunName,
    string Job,
    JsonElement JobDefinition,
    IReadOnlyList<string> Entrypoint,
    JsonElement Config,
    JsonElement ResourceConfig,
    IReadOnlyDictionary<string, string> Environment,
    JsonElement? QueueResourceConfig = null,
    IReadOnlyDictionary<string, string>? Secrets = null,
    int? MaxRunSeconds = null);

public sealed record RegisterAgentRequest(string Name, IReadOnlyList<string> Queues, string? Version = null, string? Host = null, int MaxJobs = 1);

public static class AgentStates
{
    public const string Polling = "polling";
    public const string Running = "running";
    public const string Stopping = "stopping";
    public const string Stopped = "stopped";

    /// <summary>Shown, never reported: the agent missed three heartbeat intervals without saying it stopped (it died, or lost the server).</summary>
    public const string Offline = "offline";
}

public sealed record AgentInfo(
    string Id,
    string Name,
    string Entity,
    IReadOnlyList<string> Queues,
    string? Version,
    string? Host,
    int MaxJobs,
    string State,
    int RunningItems,
    DateTimeOffset RegisteredAt,
    DateTimeOffset LastHeartbeatAt,
    bool StopRequested);

public sealed record AgentList(IReadOnlyList<AgentInfo> Agents);

public sealed record AgentHeartbeatRequest(string State, int RunningItems);

public sealed record AgentHeartbeatReply(bool StopRequested, int LeaseSeconds);

/// <summary>Long poll: wait up to <see cref="WaitSeconds"/> (max 60) for an item on the agent's queues.</summary>
public sealed record ClaimRequest(double WaitSeconds = 30);

/// <summary>A claimed item: the lease, its fencing token (<see cref="LaunchSpec.Attempt"/>) and what to run.</summary>
public sealed record Claim(ItemInfo Item, LaunchSpec Spec, DateTimeOffset LeaseExpiresAt);

/// <summary>
/// The agent renews its lease on an item under the attempt's fencing token. <see cref="WaitingReason"/> is why the
/// workload is not running yet as the target says (a Slurm pending reason, a pending pod's), null once it runs.
/// </summary>
public sealed record ItemHeartbeatRequest(int Attempt, string? WaitingReason = null);

public sealed record ItemHeartbeatReply(string State, bool CancelRequested, DateTimeOffset LeaseExpiresAt);

/// <summary>
/// The agent's report on an item it holds: <c>starting</c>, <c>running</c>, <c>finished</c>, <c>failed</c> (with phase and
/// message) or <c>cancelled</c> (after a cancel request). Carries the fencing token; a stale one is refused with 409.
/// A failure carries its <see cref="FailureClasses"/> class as the agent's target saw it (<c>user</c> when not given).
/// </summary>
public sealed record ItemProgressRequest(int Attempt, string State, string? Phase = null, string? Message = null, int? ExitCode = null, string? FailureClass = null);

/// <summary>
/// An agent that stops gracefully hands an item back: it is pending again without an attempt counted, and the run
/// of <see cref="RunId"/> ends killed. Fenced by the attempt and its run, since the attempt number stays the same.
/// </summary>
public sealed record ItemReleaseRequest(int Attempt, string RunId);
