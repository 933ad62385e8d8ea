using System.Text.Json;

namespace Liftoff.Contracts;

/// <summary>
/// One audit log entry: when, who (<see cref="ActorKind"/>: <c>user</c>, <c>run</c>, <c>service_account</c> or
/// <c>anonymous</c>), from which address, what, on which object, in which entity, and the outcome (<c>ok</c>,
/// <c>denied</c>, <c>refused</c>, <c>failed</c>) with the HTTP status. <see cref="Detail"/> holds what the action
/// changed (a queue's config before and after with environment values elided, a role), never a secret's value.
/// </summary>
public sealed record AuditEntryInfo(
    long Id, DateTimeOffset At, string? Entity, string Actor, string ActorKind, string? Address, string Action, string? Object,
    string Outcome, int Status, JsonElement? Detail);

/// <summary>A page of entries, newest first; <see cref="NextCursor"/> (pass as <c>cursor</c>) fetches the older ones.</summary>
public sealed record AuditList(IReadOnlyList<AuditEntryInfo> Entries, string? NextCursor);
