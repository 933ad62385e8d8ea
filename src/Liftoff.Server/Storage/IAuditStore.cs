namespace Liftoff.Server.Storage;

/// <summary>
/// The audit log: an append-only record of state-changing actions. Entries are never updated; only
/// <see cref="DeleteAuditBeforeAsync"/> (the retention sweep) removes them. An entry for a change the store makes is
/// written by the store itself, in the change's own transaction, while an <see cref="AuditScope"/> is open.
/// </summary>
internal interface IAuditStore
{
    /// <summary>Appends an entry on its own (a change that never reached the store, or failed there); returns its id.</summary>
    Task<long> AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>Entries matching <paramref name="query"/>, newest first.</summary>
    Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken);

    /// <summary>Deletes the entries recorded before <paramref name="cutoff"/>; the number deleted.</summary>
    Task<int> DeleteAuditBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}

/// <summary>
/// One action: when, by whom (<paramref name="ActorKind"/>: <see cref="AuditActorKinds"/>), from which address, what,
/// on which object, in whose entity, and how it ended (<see cref="AuditOutcomes"/>, with the HTTP status).
/// <paramref name="Detail"/> is a JSON object (a queue's config before and after, a role), never a secret's value.
/// </summary>
internal sealed record AuditEntry(
    DateTimeOffset At, long? EntityId, string? Entity, string Actor, string ActorKind, string? Address, string Action, string? Object,
    string Outcome, int Status, string? Detail);

internal sealed record AuditRecord(long Id, AuditEntry Entry);

/// <summary>
/// Filters, each optional: one entity (null: all), exact actor, action and object, a time window [since, until), and
/// the page (entries older than the cursor <paramref name="Before"/>, an id).
/// </summary>
internal sealed record AuditQuery(
    long? EntityId = null, string? Actor = null, string? Action = null, string? Object = null,
    DateTimeOffset? Since = null, DateTimeOffset? Until = null, long? Before = null, int Limit = 100);

internal static class AuditActorKinds
{
    public const string User = "user";
    public const string Run = "run";
    public const string ServiceAccount = "service_account";
    public const string Anonymous = "anonymous";
}

internal static class AuditOutcomes
{
    public const string Ok = "ok";

    /// <summary>The caller may not (401, 403, or 404 for what they may not see).</summary>
    public const string Denied = "denied";

    /// <summary>The request was refused as given (any other 4xx).</summary>
    public const string Refused = "refused";

    public const string Failed = "failed";
}

/// <summary>
/// The entry a request will record, open for the duration of the request (the API layer's <c>AuditLog</c> opens it).
/// The first store write in the scope that changes something appends the entry, with outcome ok, inside that write's
/// transaction: it commits with the change or not at all. A write that throws rolls the entry back with it, and a write
/// that changed nothing (it returned false, null or 0) appends nothing; whoever closes the scope then records the
/// outcome on its own.
/// </summary>
internal sealed class AuditScope(Func<string, int, AuditEntry> describe)
{
    private static readonly AsyncLocal<AuditScope?> Ambient = new();

    public static AuditScope? Current => Ambient.Value;

    /// <summary>The id of the entry a write appended; null while none has.</summary>
    public long? RecordedId { get; internal set; }

    /// <summary>The entry as it stands now, with <paramref name="outcome"/> and <paramref name="status"/>.</summary>
    public AuditEntry Describe(string outcome, int status) => describe(outcome, status);

    /// <summary>Makes this the scope of the current async flow until the returned handle is disposed.</summary>
    public IDisposable Open()
    {
        var previous = Ambient.Value;
        Ambient.Value = this;
        return new Restore(previous);
    }

    private sealed class Restore(AuditScope? previous) : IDisposable
    {
        public void Dispose() => Ambient.Value = previous;
    }
}
