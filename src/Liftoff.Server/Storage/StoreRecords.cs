using Liftoff.Core.Runs;

namespace Liftoff.Server.Storage;

/// <summary>A user, a team or a team's service account (<see cref="EntityKinds"/>); only users and service accounts hold keys, only users may be server admins.</summary>
internal sealed record EntityRecord(long Id, string Name, bool Admin, DateTimeOffset CreatedAt, string Kind = EntityKinds.User);

internal static class EntityKinds
{
    public const string User = "user";
    public const string Team = "team";
    public const string ServiceAccount = "service_account";
}

/// <summary>What a user may do in an entity, each role including the ones before it.</summary>
internal enum EntityRole
{
    None,
    Viewer,
    Member,
    Admin,
}

/// <summary>The wire and database names of <see cref="EntityRole"/>: <c>viewer</c>, <c>member</c>, <c>admin</c>.</summary>
internal static class EntityRoles
{
    public static readonly IReadOnlyList<string> Names = ["viewer", "member", "admin"];

    public static string Name(EntityRole role) => role switch
    {
        EntityRole.Viewer => "viewer",
        EntityRole.Member => "member",
        EntityRole.Admin => "admin",
        _ => "none",
    };

    /// <summary>A team role by name; null for anything else (none is not a role one can be given).</summary>
    public static EntityRole? Parse(string? name) => name switch
    {
        "viewer" => EntityRole.Viewer,
        "member" => EntityRole.Member,
        "admin" => EntityRole.Admin,
        _ => null,
    };
}

/// <summary>A team, and the role in it of the user it was listed for (null: the server admin listing a team they are not in).</summary>
internal sealed record TeamRecord(long Id, string Name, DateTimeOffset CreatedAt, EntityRole? Role);

internal sealed record MemberRecord(long UserId, string User, EntityRole Role, DateTimeOffset CreatedAt);

/// <summary>
/// An entity by name and the role a user has in it by ownership or membership: admin of themselves, their role in a
/// team they belong to, none otherwise (being the server admin is the caller's, not the store's, to add).
/// </summary>
internal sealed record EntityAccess(long EntityId, string Entity, string Kind, EntityRole Role);

/// <summary>A secret of an entity; <paramref name="Ciphertext"/> is what Data Protection made of its value, never the value.</summary>
internal sealed record SecretRecord(string Name, string Ciphertext, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A user's or service account's key; <paramref name="AgentQueues"/>: an agent-only key's queues (null: a full key).</summary>
internal sealed record ApiKeyRecord(string Id, long EntityId, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, IReadOnlyList<string>? AgentQueues = null);

/// <summary>
/// Who an API key speaks for; a key with <paramref name="RunId"/> may touch that run only. <paramref name="DefaultEntity"/>
/// is where the key's user acts when a request names no entity (null: themselves). A service account's key carries
/// <paramref name="Account"/>; an agent-only key, the queues it works on (<paramref name="AgentQueues"/>, comma-separated:
/// queue names hold no commas, and a string keeps the record's equality by value).
/// </summary>
internal sealed record KeyPrincipal(
    string KeyId, long EntityId, string Entity, bool Admin, string? RunId = null, string? DefaultEntity = null, AccountScope? Account = null, string? AgentQueues = null);

/// <summary>Where a service account acts: its one team, with the role it was created with.</summary>
internal sealed record AccountScope(long TeamId, string Team, EntityRole Role);

/// <summary>
/// A service account of a team: <paramref name="EntityId"/> is its own entity (named <see cref="EntityName"/>), which
/// holds its keys; <paramref name="DeletedAt"/> is set once deleted (its name is never reused).
/// </summary>
internal sealed record ServiceAccountRecord(long EntityId, string Team, string Name, EntityRole Role, DateTimeOffset CreatedAt, DateTimeOffset? DeletedAt = null)
{
    public string EntityName => ServiceAccounts.EntityName(Name, Team);
}

internal static class ServiceAccounts
{
    /// <summary>The entity name of account <paramref name="name"/> of <paramref name="team"/>: '@' is in no user's or team's name.</summary>
    public static string EntityName(string name, string team) => name + "@" + team;
}

internal sealed record ProjectRecord(string Entity, string Name, DateTimeOffset CreatedAt, long RunCount);

/// <summary>
/// A page of an entity's runs. Without <paramref name="Sort"/> and <paramref name="Offset"/>, newest first paged by
/// <paramref name="Before"/> (keyset); with either, paged by offset. <paramref name="Job"/> matches runs launched from any
/// version of that job (<c>name</c>) or from one (<c>name:vK</c>); <paramref name="Queue"/>, runs launched from that queue.
/// </summary>
internal sealed record RunQuery(
    long EntityId,
    string? Project,
    string? State,
    int Limit,
    long? Before,
    RunSort? Sort = null,
    IReadOnlyList<RunFilter>? Filters = null,
    int? Offset = null,
    bool CountTotal = false,
    string? Job = null,
    string? Queue = null);

/// <summary>Where a run's sort or filter value comes from: a column, or a path of keys into its config or summary.</summary>
internal sealed record RunField(RunFieldKind Kind, IReadOnlyList<string> Path)
{
    public static RunField Column(RunFieldKind kind) => new(kind, []);
}

internal enum RunFieldKind
{
    CreatedAt,
    Name,
    State,
    /// <summary>Seconds from start (or creation) to end, or to the last sign of life while the run is not over.</summary>
    Duration,
    Config,
    Summary,
}

/// <summary>Runs without a value at the field sort last, in either direction; ties go newest first.</summary>
internal sealed record RunSort(RunField Field, bool Descending);

internal enum RunFilterOperator
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    /// <summary>Case-insensitive substring of a text value.</summary>
    Contains,
}

/// <summary>
/// A condition on a field. <paramref name="Value"/> is a double (compared as a number), a bool or a string (compared
/// ordinally). A run without a value at the field matches no filter, whatever the operator.
/// </summary>
internal sealed record RunFilter(RunField Field, RunFilterOperator Operator, object Value);

/// <summary><paramref name="NextBefore"/> for keyset paging; <paramref name="Total"/> when the query asked for it.</summary>
internal sealed record RunPage(IReadOnlyList<Liftoff.Core.Runs.RunRecord> Runs, long? NextBefore, long? Total = null);

internal sealed record StoredHistoryRow(long Step, double Time, string ValuesJson);

internal sealed record StoredLogLine(long Line, string Stream, string Text, double Time);

/// <summary>
/// A run's console lines <c>[0, <paramref name="Lines"/>)</c>, moved to the blob <paramref name="Sha256"/> (gzip-compressed
/// NDJSON, <paramref name="Size"/> bytes); both null while the archive is only sealed.
/// </summary>
internal sealed record ConsoleArchive(long Lines, string? Sha256, long? Size)
{
    public bool IsComplete => Sha256 is not null;

    /// <summary>The refusal of a write at <paramref name="line"/>, below <see cref="Lines"/>.</summary>
    public RunConflictException Refusal(string runId, long line) => new(
        $"run {runId}'s console lines 0 to {Lines - 1} were archived to the blob store and can no longer be written (line {line}); write at line {Lines} or later");
}

/// <summary>A run whose console is due for archiving, and the keyset position of its (end time, id).</summary>
internal sealed record ConsoleToArchive(DateTimeOffset EndedAt, string RunId)
{
    public static readonly ConsoleToArchive Start = new(DateTimeOffset.UnixEpoch, "");
}

/// <summary>A name or id that must be unique is taken (HTTP 409).</summary>
internal sealed class DuplicateException(string message) : Exception(message);

/// <summary>A membership change that would leave a team without an admin (HTTP 409).</summary>
internal sealed class MembershipConflictException(string message) : Exception(message);

/// <summary>The caller's key may not do this (HTTP 403); the message says why, never the key.</summary>
internal sealed class ForbiddenException(string message) : Exception(message);

/// <summary>A request that contradicts what is stored (HTTP 400), e.g. a history step going backwards.</summary>
internal sealed class StoreValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
