using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Liftoff.Server.Storage.Postgres;

/// <summary>
/// Moves an embedded installation into an empty PostgreSQL database, table by table, keeping every id (so run
/// cursors, item sequence numbers and key ids stay valid) and every row: entities and keys, projects, runs with their
/// history, console and console archive records, team memberships and service accounts, the blob index and artifacts, queues, items, agents and the audit log (blobs, archived
/// consoles included, stay in the blob store the new servers must reach). One PostgreSQL transaction: a failure
/// leaves the target as empty as it was. The source is read in one SQLite read transaction and never written, beyond
/// the schema upgrade any server start on it would apply.
/// </summary>
internal static class SqliteToPostgres
{
    /// <summary>The schema version these tables describe; a newer one must teach this copy its new columns first.</summary>
    public const int SchemaVersion = 14;

    private enum Kind
    {
        Text,
        Long,
        Int,
        Double,
        Bool,
        Time,
    }

    /// <summary>Every table, parents before children; <paramref name="Identity"/> is the generated key to carry on.</summary>
    private sealed record Table(string Name, string OrderBy, (string Column, Kind Kind)[] Columns, string? Identity = null);

    private static readonly Table[] Tables =
    [
        new("entities", "id", [("id", Kind.Long), ("name", Kind.Text), ("admin", Kind.Bool), ("created_at", Kind.Time), ("kind", Kind.Text), ("default_entity_id", Kind.Long)], "id"),
        new("memberships", "team_id, user_id", [("team_id", Kind.Long), ("user_id", Kind.Long), ("role", Kind.Text), ("created_at", Kind.Time)]),
        new("service_accounts", "entity_id", [
            ("entity_id", Kind.Long), ("team_id", Kind.Long), ("name", Kind.Text), ("role", Kind.Text), ("created_at", Kind.Time), ("deleted_at", Kind.Time)]),
        new("api_keys", "id", [("id", Kind.Text), ("entity_id", Kind.Long), ("name", Kind.Text), ("key_hash", Kind.Text), ("created_at", Kind.Time), ("revoked_at", Kind.Time), ("run_id", Kind.Text), ("agent_queues", Kind.Text)]),
        new("secrets", "entity_id, name", [("entity_id", Kind.Long), ("name", Kind.Text), ("ciphertext", Kind.Text), ("created_at", Kind.Time), ("updated_at", Kind.Time)]),
        new("web_sessions", "hash", [("hash", Kind.Text), ("key_id", Kind.Text), ("created_at", Kind.Time), ("expires_at", Kind.Time)]),
        new("projects", "id", [("id", Kind.Long), ("entity_id", Kind.Long), ("name", Kind.Text), ("created_at", Kind.Time)], "id"),
        new("runs", "seq", [
            ("seq", Kind.Long), ("id", Kind.Text), ("entity_id", Kind.Long), ("project_id", Kind.Long), ("name", Kind.Text), ("state", Kind.Text),
            ("config", Kind.Text), ("summary", Kind.Text), ("host", Kind.Text), ("os", Kind.Text), ("program", Kind.Text), ("python_version", Kind.Text),
            ("exit_code", Kind.Int), ("created_at", Kind.Time), ("started_at", Kind.Time), ("ended_at", Kind.Time), ("heartbeat_at", Kind.Time),
            ("stop_requested", Kind.Bool), ("last_step", Kind.Long), ("log_lines", Kind.Long), ("crash_on_silence", Kind.Bool), ("wandb", Kind.Text)], "seq"),
        new("history", "run_seq, step", [("run_seq", Kind.Long), ("step", Kind.Long), ("time", Kind.Double), ("data", Kind.Text)]),
        new("console", "run_seq, line", [("run_seq", Kind.Long), ("line", Kind.Long), ("stream", Kind.Text), ("text", Kind.Text), ("time", Kind.Double)]),
        new("console_archives", "run_seq", [
            ("run_seq", Kind.Long), ("lines", Kind.Long), ("sha256", Kind.Text), ("size", Kind.Long), ("sealed_at", Kind.Time), ("archived_at", Kind.Time)]),
        new("blobs", "digest", [("digest", Kind.Text), ("size", Kind.Long), ("created_at", Kind.Time)]),
        new("entity_blobs", "entity_id, digest", [("entity_id", Kind.Long), ("digest", Kind.Text)]),
        new("artifact_collections", "id", [("id", Kind.Long), ("project_id", Kind.Long), ("name", Kind.Text), ("type", Kind.Text), ("created_at", Kind.Time)], "id"),
        new("artifact_versions", "id", [
            ("id", Kind.Long), ("collection_id", Kind.Long), ("version", Kind.Int), ("digest", Kind.Text), ("size", Kind.Long), ("file_count", Kind.Int),
            ("metadata", Kind.Text), ("created_by_run_seq", Kind.Long), ("created_at", Kind.Time)], "id"),
        new("artifact_files", "version_id, path", [("version_id", Kind.Long), ("path", Kind.Text), ("size", Kind.Long), ("digest", Kind.Text)]),
        new("artifact_aliases", "collection_id, alias", [("collection_id", Kind.Long), ("alias", Kind.Text), ("version_id", Kind.Long)]),
        new("run_artifacts", "run_seq, role, version_id", [("run_seq", Kind.Long), ("version_id", Kind.Long), ("role", Kind.Text), ("created_at", Kind.Time)]),
        new("queues", "id", [
            ("id", Kind.Long), ("entity_id", Kind.Long), ("name", Kind.Text), ("resource", Kind.Text), ("config", Kind.Text), ("template_variables", Kind.Text),
            ("max_attempts", Kind.Int), ("start_timeout_seconds", Kind.Int), ("created_at", Kind.Time), ("allowed_members", Kind.Text), ("retry_policy", Kind.Text), ("max_run_seconds", Kind.Int)], "id"),
        new("items", "seq", [
            ("seq", Kind.Long), ("id", Kind.Text), ("queue_id", Kind.Long), ("entity_id", Kind.Long), ("state", Kind.Text), ("priority", Kind.Int),
            ("attempt", Kind.Int), ("max_attempts", Kind.Int), ("job", Kind.Text), ("job_definition", Kind.Text), ("project", Kind.Text),
            ("run_id", Kind.Text), ("config", Kind.Text), ("resource_args", Kind.Text), ("template_values", Kind.Text), ("entrypoint", Kind.Text),
            ("phase", Kind.Text), ("error", Kind.Text), ("agent_id", Kind.Text), ("idempotency_key", Kind.Text), ("created_at", Kind.Time),
            ("claimed_at", Kind.Time), ("started_at", Kind.Time), ("ended_at", Kind.Time), ("lease_expires_at", Kind.Time), ("cancel_requested", Kind.Bool), ("submitted_by", Kind.Long),
            ("waiting_reason", Kind.Text), ("failure_class", Kind.Text), ("claimable_at", Kind.Time), ("retries", Kind.Text), ("retry_policy", Kind.Text), ("max_run_seconds", Kind.Int)], "seq"),
        new("item_events", "seq", [
            ("seq", Kind.Long), ("item_id", Kind.Text), ("at", Kind.Time), ("state", Kind.Text), ("attempt", Kind.Int), ("failure_class", Kind.Text),
            ("phase", Kind.Text), ("message", Kind.Text), ("run_id", Kind.Text), ("agent_id", Kind.Text), ("claimable_at", Kind.Time)], "seq"),
        new("agents", "id", [
            ("id", Kind.Text), ("entity_id", Kind.Long), ("name", Kind.Text), ("queues", Kind.Text), ("version", Kind.Text), ("host", Kind.Text),
            ("max_jobs", Kind.Int), ("state", Kind.Text), ("running_items", Kind.Int), ("registered_at", Kind.Time), ("heartbeat_at", Kind.Time),
            ("stop_requested", Kind.Bool)]),
        new("audit_log", "id", [
            ("id", Kind.Long), ("at", Kind.Time), ("entity_id", Kind.Long), ("entity", Kind.Text), ("actor", Kind.Text), ("actor_kind", Kind.Text),
            ("address", Kind.Text), ("action", Kind.Text), ("object", Kind.Text), ("outcome", Kind.Text), ("status", Kind.Int), ("detail", Kind.Text)], "id"),
    ];

    /// <summary>The tables and columns copied; a test holds them against the SQLite schema so that none is forgotten.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Columns =>
        Tables.ToDictionary(t => t.Name, t => (IReadOnlyList<string>)[.. t.Columns.Select(c => c.Column)]);

    public static async Task<IReadOnlyList<(string Table, long Rows)>> CopyAsync(SqliteDatabase source, PostgresDatabase target, CancellationToken cancellationToken)
    {
        if (Migrations.LatestVersion != SchemaVersion)
        {
            throw new InvalidOperationException($"migrate-data copies schema version {SchemaVersion}; the stores are at {Migrations.LatestVersion}");
        }

        await Migrations.ApplyAsync(source, cancellationToken);
        await Migrations.ApplyAsync(target, cancellationToken);

        await using var from = await source.OpenAsync(cancellationToken);
        await using var snapshot = from.BeginTransaction(deferred: true);
        await using var to = await target.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await to.BeginTransactionAsync(cancellationToken);

        // Keeps a server that starts on the target meanwhile from creating its admin under our feet.
        await using (var lockEntities = new NpgsqlCommand("LOCK TABLE entities IN EXCLUSIVE MODE", to, transaction))
        {
            await lockEntities.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var occupied = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM entities)", to, transaction))
        {
            if ((bool)(await occupied.ExecuteScalarAsync(cancellationToken))!)
            {
                throw new InvalidOperationException(
                    "the target database already holds data (a server has started on it); migrate-data only fills an empty one, so run it before any server starts on the target");
            }
        }

        var copied = new List<(string, long)>();
        foreach (var table in Tables)
        {
            copied.Add((table.Name, await CopyTableAsync(from, snapshot, to, table, cancellationToken)));
            if (table.Identity is { } identity)
            {
                await CarryIdentityAsync(from, snapshot, to, transaction, table.Name, identity, cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return copied;
    }

    private static async Task<long> CopyTableAsync(SqliteConnection from, SqliteTransaction snapshot, NpgsqlConnection to, Table table, CancellationToken cancellationToken)
    {
        var columns = string.Join(", ", table.Columns.Select(c => c.Column));
        await using var read = from.CreateCommand();
        read.Transaction = snapshot;
        read.CommandText = $"SELECT {columns} FROM {table.Name} ORDER BY {table.OrderBy}";
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        await using var writer = await to.BeginBinaryImportAsync($"COPY {table.Name} ({columns}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            await writer.StartRowAsync(cancellationToken);
            for (var i = 0; i < table.Columns.Length; i++)
            {
                if (reader.IsDBNull(i))
                {
                    await writer.WriteNullAsync(cancellationToken);
                    continue;
                }

                await (table.Columns[i].Kind switch
                {
                    Kind.Text => writer.WriteAsync(reader.GetString(i), NpgsqlDbType.Text, cancellationToken),
                    Kind.Long => writer.WriteAsync(reader.GetInt64(i), NpgsqlDbType.Bigint, cancellationToken),
                    Kind.Int => writer.WriteAsync(reader.GetInt32(i), NpgsqlDbType.Integer, cancellationToken),
                    Kind.Double => writer.WriteAsync(reader.GetDouble(i), NpgsqlDbType.Double, cancellationToken),
                    Kind.Bool => writer.WriteAsync(reader.GetInt64(i) != 0, NpgsqlDbType.Boolean, cancellationToken),
                    Kind.Time => writer.WriteAsync(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(i)), NpgsqlDbType.TimestampTz, cancellationToken),
                    _ => throw new InvalidOperationException($"no copy for {table.Columns[i].Kind}"),
                });
            }
        }

        return (long)await writer.CompleteAsync(cancellationToken);
    }

    /// <summary>
    /// New rows continue after the highest id SQLite ever handed out (AUTOINCREMENT remembers ids of deleted rows, such
    /// as the items of a deleted queue), so no id is ever reused.
    /// </summary>
    private static async Task CarryIdentityAsync(SqliteConnection from, SqliteTransaction snapshot, NpgsqlConnection to, NpgsqlTransaction transaction, string table, string column, CancellationToken cancellationToken)
    {
        await using var read = from.CreateCommand();
        read.Transaction = snapshot;
        read.CommandText = $"""
            SELECT MAX(COALESCE((SELECT MAX({column}) FROM {table}), 0),
                       COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0))
            """;
        var last = (long)(await read.ExecuteScalarAsync(cancellationToken))!;
        if (last == 0)
        {
            return;
        }

        await using var carry = new NpgsqlCommand($"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), @last)", to, transaction);
        carry.Parameters.AddWithValue("last", last);
        await carry.ExecuteNonQueryAsync(cancellationToken);
    }
}
