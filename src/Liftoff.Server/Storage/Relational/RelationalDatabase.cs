using System.Data.Common;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Liftoff.Server.Metrics;

namespace Liftoff.Server.Storage.Relational;

/// <summary>
/// One SQL database under <see cref="RelationalStore"/>: how its connections and transactions run, and the few things
/// its SQL says differently (the dialect). Everything else the store does is written once, in the core.
/// </summary>
internal abstract class RelationalDatabase
{
    /// <summary>Where the store reports how long each operation took (the server's metrics); none for a store built alone.</summary>
    public ServerMetrics? Metrics { get; init; }

    /// <summary>Runs <paramref name="read"/> on a connection, outside any explicit transaction; timed as <paramref name="operation"/>.</summary>
    public Task<T> ReadAsync<T>(Func<DbSession, Task<T>> read, CancellationToken cancellationToken, [CallerMemberName] string operation = "") =>
        TimedAsync(Stopwatch.GetTimestamp(), ReadCoreAsync(read, cancellationToken), operation);

    /// <summary>
    /// Runs <paramref name="write"/> in a transaction (<see cref="TransactAsync{T}"/>), timed as <paramref name="operation"/>. Inside an open
    /// <see cref="AuditScope"/> whose entry is not yet recorded, a write that changed something (it returned other than
    /// false, null or 0) appends the entry in the same transaction, so the change and its record commit together.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<DbSession, Task<T>> write, CancellationToken cancellationToken, [CallerMemberName] string operation = "") =>
        TimedAsync(Stopwatch.GetTimestamp(), AuditedAsync(write, cancellationToken), operation);

    private async Task<T> AuditedAsync<T>(Func<DbSession, Task<T>> write, CancellationToken cancellationToken)
    {
        if (AuditScope.Current is not { RecordedId: null } audit)
        {
            return await TransactAsync(write, cancellationToken);
        }

        var (result, recorded) = await TransactAsync(async session =>
        {
            var value = await write(session);
            return (value, Changed(value) ? await RelationalStore.AppendAuditAsync(session, audit.Describe(AuditOutcomes.Ok, 0), cancellationToken) : (long?)null);
        }, cancellationToken);
        audit.RecordedId ??= recorded;
        return result;
    }

    /// <summary>
    /// Runs <paramref name="write"/> in a transaction, retrying it whole when the database refuses it for contention
    /// (busy, deadlock); an exception it throws rolls everything back.
    /// </summary>
    public abstract Task<T> TransactAsync<T>(Func<DbSession, Task<T>> write, CancellationToken cancellationToken);

    protected abstract Task<T> ReadCoreAsync<T>(Func<DbSession, Task<T>> read, CancellationToken cancellationToken);

    private static bool Changed(object? value) => value switch
    {
        null or false or 0 => false,
        int[] rows => rows.Any(r => r != 0),
        _ => true,
    };

    /// <summary><paramref name="work"/>, reported to the metrics from <paramref name="start"/> (taken before it began) to its end, failed or not.</summary>
    private async Task<T> TimedAsync<T>(long start, Task<T> work, string operation)
    {
        try
        {
            return await work;
        }
        finally
        {
            Metrics?.Operation(operation, Stopwatch.GetElapsedTime(start));
        }
    }

    /// <summary>Whether commands are kept per connection and reused (<see cref="Statements"/>).</summary>
    public abstract bool CachesStatements { get; }

    /// <summary>A value as the database stores it: times in its encoding, nulls as <see cref="DBNull"/>.</summary>
    public abstract object Parameter(object? value);

    public abstract DateTimeOffset ReadTime(DbDataReader reader, int ordinal);

    /// <summary>Boolean true in a condition, spelt as the schema's partial indexes spell it.</summary>
    public abstract string True { get; }

    /// <summary>The suffix of a SELECT that locks the rows of <paramref name="alias"/> it returns until the transaction ends.</summary>
    public abstract string LockRows(string alias, bool skipLocked = false);

    /// <summary>A condition on a column: its value is one of the array parameter <paramref name="parameter"/>.</summary>
    public abstract string AnyOf(string parameter);

    /// <summary>The time <paramref name="seconds"/> after <paramref name="time"/>.</summary>
    public abstract string AddSeconds(string time, string seconds);

    /// <summary>Seconds from <paramref name="earlier"/> to <paramref name="later"/>, as a double.</summary>
    public abstract string Seconds(string later, string earlier);

    /// <summary>The length of a text value in UTF-8 bytes.</summary>
    public abstract string Utf8Length(string text);

    /// <summary>A JSON array (as text) of <paramref name="column"/> over <paramref name="from"/>, ordered by that column.</summary>
    public abstract string JsonArrayOf(string column, string from);

    /// <summary>Whether the text <paramref name="text"/> holds <paramref name="part"/>, ignoring case.</summary>
    public abstract string ContainsIgnoringCase(string text, string part);

    /// <summary>Text compared and sorted byte by byte, whatever the database's locale.</summary>
    public abstract string Ordinal(string text);

    /// <summary>
    /// The JSON value at <paramref name="path"/> (a parameter holding <see cref="JsonPath"/>'s value) of the text column
    /// <paramref name="column"/> as SQL of <paramref name="type"/> (number, boolean or string); NULL where missing or of another type.
    /// </summary>
    public abstract string JsonValue(string column, string path, JsonKind type);

    /// <summary>The rank of the value's type in a sort: numbers and booleans 0, strings 1, others 2; NULL where missing.</summary>
    public abstract string JsonSortRank(string column, string path);

    /// <summary>The parameter value naming the keys of a JSON path.</summary>
    public abstract object JsonPath(IReadOnlyList<string> keys);

    /// <summary>Runs the statements in order (one round trip where the database can); the rows each affected.</summary>
    public abstract Task<int[]> ExecuteAsync(DbSession session, IReadOnlyList<Sql> statements, CancellationToken cancellationToken);

    /// <summary>
    /// The highest-priority, oldest claimable item of <paramref name="queueIds"/> (pending, not backing off), held so that no other claim takes it
    /// before this transaction ends; null when none is pending.
    /// </summary>
    public abstract Task<ItemRow?> FindClaimableAsync(DbSession session, IReadOnlyList<long> queueIds, CancellationToken cancellationToken);

    /// <summary>The statement that wakes other replicas' claims waiting on the queue when the transaction commits; null where there are none.</summary>
    public abstract Sql? WakeQueue(long queueId);

    /// <summary>The dialect's SQL for a migration step's placeholders (<see cref="Migrations"/>).</summary>
    public abstract IReadOnlyDictionary<string, string> SchemaTerms { get; }

    /// <summary>What must hold before migrating, outside the migration's transaction (SQLite: WAL).</summary>
    public virtual Task BeforeMigratingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Taken first in the migration's transaction, so that servers starting together migrate one at a time.</summary>
    public virtual string? MigrationLock => null;

    /// <summary>Names the database in errors, without secrets.</summary>
    public abstract string Name { get; }
}

internal enum JsonKind
{
    Number,
    Boolean,
    String,
}

/// <summary>An item row with the keys the store needs beside the record.</summary>
internal sealed record ItemRow(Liftoff.Core.Launch.ItemRecord Item, long EntityId, long QueueId);

/// <summary>
/// One statement of the writes a transaction sends together after its reads (<see cref="DbSession.ExecuteAsync(IReadOnlyList{Sql}, CancellationToken)"/>).
/// </summary>
internal sealed class Sql(string text, params (string Name, object? Value)[] parameters)
{
    public string Text { get; } = text;

    public (string Name, object? Value)[] Parameters { get; } = parameters;

    /// <summary>For an insert of many rows: the columns with one value per row; <see cref="Text"/> is then the table.</summary>
    public (string Column, Array Values)[]? RowColumns { get; private init; }

    /// <summary>What follows the rows (an ON CONFLICT clause).</summary>
    public string Tail { get; private init; } = "";

    /// <summary>
    /// Inserts rows into <paramref name="table"/>: <paramref name="shared"/> columns take one value for every row, each of
    /// <paramref name="rows"/> one value per row (arrays of equal length).
    /// </summary>
    public static Sql InsertRows(string table, (string Column, object? Value)[] shared, (string Column, Array Values)[] rows, string tail = "") =>
        new(table, shared) { RowColumns = rows, Tail = tail };
}

/// <summary>A connection (and, when writing, its transaction) of one <see cref="RelationalDatabase"/>.</summary>
internal sealed class DbSession(RelationalDatabase database, DbConnection connection, DbTransaction? transaction)
{
    public RelationalDatabase Database => database;

    public DbConnection Connection => connection;

    public DbTransaction? Transaction => transaction;

    public Statement Command(string sql, params (string Name, object? Value)[] parameters) =>
        Statements.Get(database, connection, transaction, sql, database.CachesStatements, parameters);

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<int[]> ExecuteAsync(IReadOnlyList<Sql> statements, CancellationToken cancellationToken) =>
        statements.Count == 0 ? Task.FromResult(Array.Empty<int>()) : database.ExecuteAsync(this, statements, cancellationToken);

    public async Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        var value = await command.Command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }

    public async Task<List<T>> ListAsync<T>(string sql, Func<Row, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        var row = new Row(reader, database);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(row));
        }

        return rows;
    }

    public async Task<T?> FirstAsync<T>(string sql, Func<Row, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class
    {
        await using var command = Command(sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? map(new Row(reader, database)) : null;
    }
}

/// <summary>The current row of a reader, with values read as the database encodes them.</summary>
internal readonly struct Row(DbDataReader reader, RelationalDatabase database)
{
    public string String(int ordinal) => reader.GetString(ordinal);

    public string? NullableString(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public long Long(int ordinal) => reader.GetInt64(ordinal);

    public long? NullableLong(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);

    public int Int(int ordinal) => reader.GetInt32(ordinal);

    public int? NullableInt(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt32(ordinal);

    public double Double(int ordinal) => reader.GetDouble(ordinal);

    public bool Bool(int ordinal) => reader.GetBoolean(ordinal);

    public DateTimeOffset Time(int ordinal) => database.ReadTime(reader, ordinal);

    public DateTimeOffset? NullableTime(int ordinal) => reader.IsDBNull(ordinal) ? null : database.ReadTime(reader, ordinal);
}
