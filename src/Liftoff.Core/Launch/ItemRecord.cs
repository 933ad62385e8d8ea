namespace Liftoff.Core.Launch;

/// <summary>
/// A launch item as the store keeps it. JSON fields are object texts. <paramref name="SubmittedBy"/> is the user whose key
/// enqueued it (a team's members cancel and move their own items only); the store records the owning entity when it is
/// not given, as it did for every item before teams. <paramref name="WaitingReason"/> is why a held item's workload is
/// not running yet, as its agent last said (a Slurm pending reason, a pending pod's); only a held item has one.
/// <paramref name="RetryPolicyJson"/> is the item's effective policy,
/// fixed at enqueue (null: the defaults); <paramref name="RetriesJson"/> counts the retries spent per budget;
/// <paramref name="ClaimableAt"/>, while set, holds a retried item back until its backoff ends.
/// </summary>
public sealed record ItemRecord(
    string Id,
    string Queue,
    string Entity,
    string State,
    int Priority,
    int Attempt,
    int MaxAttempts,
    string Job,
    string JobDefinitionJson,
    string Project,
    string? RunId,
    string ConfigJson,
    string ResourceArgsJson,
    string TemplateValuesJson,
    string? EntrypointJson,
    string? Phase,
    string? Error,
    string? AgentId,
    string? IdempotencyKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ClaimedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    DateTimeOffset? LeaseExpiresAt,
    bool CancelRequested,
    string? SubmittedBy = null,
    string? WaitingReason = null,
    string? FailureClass = null,
    DateTimeOffset? ClaimableAt = null,
    string? RetriesJson = null,
    string? RetryPolicyJson = null,
    int? MaxRunSeconds = null)
{
    public bool IsTerminal => ItemLifecycle.IsTerminal(State);

    public bool IsHeld => ItemLifecycle.IsHeld(State);
}
