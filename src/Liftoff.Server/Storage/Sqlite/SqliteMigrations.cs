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
            CREATE TABLE blobs (
                digest TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                created_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE entity_blobs (
                entity_id INTEGER NOT NULL REFERENCES entities(id),
                digest TEXT NOT NULL REFERENCES blobs(digest),
                PRIMARY KEY (entity_id, digest)
            ) WITHOUT ROWID;
            CREATE TABLE artifact_collections (
                id INTEGER PRIMARY KEY,
                project_id INTEGER NOT NULL REFERENCES projects(id),
                name TEXT NOT NULL,
                type TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                UNIQUE (project_id, name)
            );
            CREATE TABLE artifact_versions (
                id INTEGER PRIMARY KEY,
                collection_id INTEGER NOT NULL REFERENCES artifact_collections(id),
                version INTEGER NOT NULL,
                digest TEXT NOT NULL,
                size INTEGER NOT NULL,
                file_count INTEGER NOT NULL,
                metadata TEXT NOT NULL,
                created_by_run_seq INTEGER REFERENCES runs(seq),
                created_at INTEGER NOT NULL,
                UNIQUE (collection_id, version),
                UNIQUE (collection_id, digest)
            );
            CREATE TABLE artifact_files (
                version_id INTEGER NOT NULL REFERENCES artifact_versions(id),
                path TEXT NOT NULL,
                size INTEGER NOT NULL,
                digest TEXT NOT NULL,
                PRIMARY KEY (version_id, path)
            ) WITHOUT ROWID;
            CREATE TABLE artifact_aliases (
                collection_id INTEGER NOT NULL REFERENCES artifact_collections(id),
                alias TEXT NOT NULL,
                version_id INTEGER NOT NULL REFERENCES artifact_versions(id),
                PRIMARY KEY (collection_id, alias)
            ) WITHOUT ROWID;
            CREATE INDEX artifact_aliases_version ON artifact_aliases(version_id);
            CREATE TABLE run_artifacts (
                run_seq INTEGER NOT NULL REFERENCES runs(seq),
                version_id INTEGER NOT NULL REFERENCES artifact_versions(id),
                role TEXT NOT NULL CHECK (role IN ('used', 'produced')),
                created_at INTEGER NOT NULL,
                PRIMARY KEY (run_seq, role, version_id)
            ) WITHOUT ROWID;
            """),
        (3, """
            ALTER TABLE api_keys ADD COLUMN run_id TEXT;
            CREATE INDEX api_keys_run ON api_keys(run_id) WHERE run_id IS NOT NULL;
            CREATE TABLE queues (
                id INTEGER PRIMARY KEY,
                entity_id INTEGER NOT NULL REFERENCES entities(id),
                name TEXT NOT NULL,
                resource TEXT NOT NULL,
                config TEXT NOT NULL,
                template_variables TEXT NOT NULL,
                max_attempts INTEGER NOT NULL,
                start_timeout_seconds INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                UNIQUE (entity_id, name)
            );
            CREATE TABLE items (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                queue_id INTEGER NOT NULL REFERENCES queues(id),
                entity_id INTEGER NOT NULL REFERENCES entities(id),
                state TEXT NOT NULL,
                priority INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                max_attempts INTEGER NOT NULL,
                job TEXT NOT NULL,
                job_definition TEXT NOT NULL,
                project TEXT NOT NULL,
                run_id TEXT,
                config TEXT NOT NULL,
                resource_args TEXT NOT NULL,
                template_values TEXT NOT NULL,
                entrypoint TEXT,
                phase TEXT,
                error TEXT,
                agent_id TEXT,
                idempotency_key TEXT,
                created_at INTEGER NOT NULL,
                claimed_at INTEGER,
                started_at INTEGER,
                ended_at INTEGER,
                lease_expires_at INTEGER,
                cancel_requested INTEGER NOT NULL,
                UNIQUE (entity_id, idempotency_key)
            );
            CREATE INDEX items_pending ON items(queue_id, priority, seq) WHERE state = 'pending';
            CREATE INDEX items_held ON items(lease_expires_at) WHERE lease_expires_at IS NOT NULL;
            CREATE INDEX items_queue ON items(queue_id, seq);
            CREATE INDEX items_run ON items(run_id) WHERE run_id IS NOT NULL;
            CREATE TABLE agents (
                id TEXT PRIMARY KEY,
                entity_id INTEGER NOT NULL REFERENCES entities(id),
                name TEXT NOT NULL,
                queues TEXT NOT NULL,
                version TEXT,
                host TEXT,
                max_jobs INTEGER NOT NULL,
                state TEXT NOT NULL,
                running_items INTEGER NOT NULL,
                registered_at INTEGER NOT NULL,
                heartbeat_at INTEGER NOT NULL,
                stop_requested INTEGER NOT NULL
            );
            CREATE INDEX agents_entity ON agents(entity_id, heartbeat_at);
            """),
        (4, """
            ALTER TABLE runs ADD COLUMN crash_on_silence INTEGER NOT NULL DEFAULT 1;
            ALTER TABLE runs ADD COLUMN wandb TEXT;
            DROP INDEX runs_running;
            CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running' AND crash_on_silence = 1;
            """),
        (5, """
            CREATE TABLE web_sessions (
                hash TEXT PRIMARY KEY,
                key_id TEXT NOT NULL REFERENCES api_keys(id),
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
            CREATE INDEX runs_project_state ON runs(project_id, state, seq);
            """),
        (6, """
            CREATE TABLE console_archives (
                run_seq INTEGER PRIMARY KEY REFERENCES runs(seq),
                lines INTEGER NOT NULL,
                sha256 TEXT,
                size INTEGER,
                sealed_at INTEGER NOT NULL,
                archived_at INTEGER
            );
            CREATE INDEX runs_ended ON runs(ended_at, id) WHERE ended_at IS NOT NULL;
            """),
    ];

    public static int LatestVersion => Steps[^1].Version;

    public static async Task ApplyAsync(SqliteDatabase database, CancellationToken cancellationToken)
    {
        // WAL lets readers run beside the one writer; the mode is stored in the file, so once is enough.
        await using (var connection = await database.OpenAsync(cancellationToken))
        await using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL";
            await wal.ExecuteNonQueryAsync(cancellationToken);
        }

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
