using System.Text;

namespace Liftoff.Server.Storage.Relational;

/// <summary>The audit log (<see cref="IAuditStore"/>); the in-transaction append is <see cref="RelationalDatabase.WriteAsync{T}"/>'s.</summary>
internal sealed partial class RelationalStore : IAuditStore
{
    private const string AuditColumns = "at, entity_id, entity, actor, actor_kind, address, action, object, outcome, status, detail";

    /// <summary>Outside any <see cref="AuditScope"/>: this entry is the record, not a change to record.</summary>
    public Task<long> AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken) =>
        database.TransactAsync(session => AppendAuditAsync(session, entry, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        var where = new StringBuilder("WHERE 1 = 1");
        var parameters = new List<(string, object?)>();
        void Filter(string condition, string name, object? value)
        {
            if (value is not null)
            {
                where.Append(" AND ").Append(condition);
                parameters.Add((name, value));
            }
        }

        Filter("entity_id = @e", "@e", query.EntityId);
        Filter("actor = @actor", "@actor", query.Actor);
        Filter("action = @action", "@action", query.Action);
        Filter("object = @object", "@object", query.Object);
        Filter("at >= @since", "@since", query.Since);
        Filter("at < @until", "@until", query.Until);
        Filter("id < @before", "@before", query.Before);
        parameters.Add(("@limit", query.Limit));
        return database.ReadAsync<IReadOnlyList<AuditRecord>>(async session => await session.ListAsync(
            $"SELECT id, {AuditColumns} FROM audit_log {where} ORDER BY id DESC LIMIT @limit",
            r => new AuditRecord(r.Long(0), new AuditEntry(r.Time(1), r.NullableLong(2), r.NullableString(3), r.String(4), r.String(5), r.NullableString(6),
                r.String(7), r.NullableString(8), r.String(9), r.Int(10), r.NullableString(11))),
            cancellationToken, [.. parameters]), cancellationToken);
    }

    public Task<int> DeleteAuditBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        database.WriteAsync(session => session.ExecuteAsync("DELETE FROM audit_log WHERE at < @cutoff", cancellationToken, ("@cutoff", cutoff)), cancellationToken);

    private static readonly Sql AuditInsert = new($"INSERT INTO audit_log ({AuditColumns}) VALUES (@at, @e, @entity, @actor, @kind, @address, @action, @object, @outcome, @status, @detail)");

    /// <summary>Appends <paramref name="entry"/> in <paramref name="session"/>'s transaction; its id.</summary>
    internal static async Task<long> AppendAuditAsync(DbSession session, AuditEntry entry, CancellationToken cancellationToken) =>
        Convert.ToInt64(await session.ScalarAsync(AuditInsert.Text + " RETURNING id", cancellationToken, AuditParameters(entry)), System.Globalization.CultureInfo.InvariantCulture);

    private static (string, object?)[] AuditParameters(AuditEntry e) =>
    [
        ("@at", e.At), ("@e", e.EntityId), ("@entity", e.Entity), ("@actor", e.Actor), ("@kind", e.ActorKind), ("@address", e.Address),
        ("@action", e.Action), ("@object", e.Object), ("@outcome", e.Outcome), ("@status", e.Status), ("@detail", e.Detail),
    ];
}
