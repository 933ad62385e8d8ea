namespace Liftoff.Server.Storage;

internal sealed record EntityRecord(long Id, string Name, bool Admin, DateTimeOffset CreatedAt);

internal sealed record ApiKeyRecord(string Id, long EntityId, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>Who an API key speaks for; a key with <paramref name="RunId"/> may touch that run only.</summary>
internal sealed record KeyPrincipal(string KeyId, long EntityId, string Entity, bool Admin, string? RunId = null);

internal sealed record ProjectRecord(string Entity, string Name, DateTimeOffset CreatedAt, long RunCount);

internal sealed record RunQuery(long EntityId, string? Project, string? State, int Limit, long? Before);

internal sealed record RunPage(IReadOnlyList<Liftoff.Core.Runs.RunRecord> Runs, long? NextBefore);

internal sealed record StoredHistoryRow(long Step, double Time, string ValuesJson);

internal sealed record StoredLogLine(long Line, string Stream, string Text, double Time);

/// <summary>A name or id that must be unique is taken (HTTP 409).</summary>
internal sealed class DuplicateException(string message) : Exception(message);

/// <summary>A request that contradicts what is stored (HTTP 400), e.g. a history step going backwards.</summary>
internal sealed class StoreValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
