using Microsoft.Data.Sqlite;

namespace Liftoff.Server.Storage.Sqlite;

/// <summary>Forward-only, versioned schema changes, applied at server start.</summary>
internal static class SqliteMigrations
{
    private static readonly (int Version, string Sql)[] Steps =
    [
        (1, """
            CREATE TABLE entities (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                admin INTEGER NOT NULL,
                created_at INTEGER NOT NULL
            );
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                entity_id INTEGER NOT NULL REFERENCES entities(id),
                name TEXT NOT NULL,
                key_hash TEXT NOT NULL UNIQUE,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX api_keys_entity ON api_keys(entity_id);
            CREATE TABLE projects (
                id INTEGER PRIMARY KEY,
                entity_id INTEGER NOT NULL REFERENCES entities(id),
                name TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                UNIQUE (entity_id, name)
            );
            CREATE TABLE runs (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                entity_id INTEGER NOT NULL REFERENCES entities(id),
                project_id INTEGER NOT NULL REFERENCES projects(id),
                name TEXT NOT NULL,
                state TEXT NOT NULL,
                config TEXT NOT NULL,
                summary TEXT NOT NULL,
                host TEXT,
                os TEXT,
                program TEXT,
                python_version TEXT,
                exit_code INTEGER,
                created_at INTEGER NOT NULL,
                started_at INTEGER,
                ended_at INTEGER,
                heartbeat_at INTEGER,
                stop_requested INTEGER NOT NULL,
                last_step INTEGER,
                log_lines INTEGER NOT NULL
            );
            CREATE INDEX runs_entity ON runs(entity_id, seq);
            CREATE INDEX runs_project ON runs(project_id, seq);
            CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running';
            CREATE TABLE history (
                run_seq INTEGER NOT NULL REFERENCES runs(seq),
                step INTEGER NOT NULL,
                time REAL NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (run_seq, step)
            ) WITHOUT ROWID;
            CREATE TABLE console (
                run_seq INTEGER NOT NULL REFERENCES runs(seq),
                line INTEGER NOT NULL,
                stream TEXT NOT NULL,
                text TEXT NOT NULL,
                time REAL NOT NULL,
                PRIMARY KEY (run_seq, line)
            ) WITHOUT ROWID;
            """),
        (2, """
            ALTER TABLE runs ADD COLUMN crash_on_silence INTEGER NOT NULL DEFAULT 1;
            ALTER TABLE runs ADD COLUMN wandb TEXT;
            DROP INDEX runs_running;
            CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running' AND crash_on_silence = 1;
            """),
    ];

    public static async Task ApplyAsync(SqliteDatabase database, CancellationToken cancellationToken)
    {
        await database.WriteAsync(async (connection, transaction) =>
        {
            await using (var create = connection.CreateCommand())
            {
                create.Transaction = transaction;
                create.CommandText = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";
                await create.ExecuteNonQueryAsync(cancellationToken);
            }

            long current;
            await using (var read = connection.CreateCommand())
            {
                read.Transaction = transaction;
                read.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
                current = (long)(await read.ExecuteScalarAsync(cancellationToken))!;
            }

            if (current > Steps[^1].Version)
            {
                throw new InvalidOperationException(
                    $"the database {database.Path} has schema version {current}, newer than this server knows ({Steps[^1].Version}); run a newer liftoff");
            }

            foreach (var (version, sql) in Steps.Where(s => s.Version > current))
            {
                await using var apply = connection.CreateCommand();
                apply.Transaction = transaction;
                apply.CommandText = sql + ";INSERT INTO schema_migrations (version, applied_at) VALUES ($v, $at)";
                apply.Parameters.AddWithValue("$v", version);
                apply.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                await apply.ExecuteNonQueryAsync(cancellationToken);
            }

            return 0;
        }, cancellationToken);
    }
}
