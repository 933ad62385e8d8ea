namespace Liftoff.Server.Tests.Storage;

/// <summary>
/// The schema of both stores before the relational core (version 6), copied verbatim from their migrations at the
/// time: fixture data for the upgrade tests, never to be changed with the code.
/// </summary>
internal static class TodaysSchema
{
    /// <summary>Sqlite: steps 1 to 6 of the migrations before the relational core, as they stood, and their record.</summary>
    public const string SqliteSchemaV6 = """
        CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
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
        ALTER TABLE runs ADD COLUMN crash_on_silence INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE runs ADD COLUMN wandb TEXT;
        DROP INDEX runs_running;
        CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running' AND crash_on_silence = 1;
        CREATE TABLE web_sessions (
            hash TEXT PRIMARY KEY,
            key_id TEXT NOT NULL REFERENCES api_keys(id),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
        CREATE INDEX runs_project_state ON runs(project_id, state, seq);
        CREATE TABLE console_archives (
            run_seq INTEGER PRIMARY KEY REFERENCES runs(seq),
            lines INTEGER NOT NULL,
            sha256 TEXT,
            size INTEGER,
            sealed_at INTEGER NOT NULL,
            archived_at INTEGER
        );
        CREATE INDEX runs_ended ON runs(ended_at, id) WHERE ended_at IS NOT NULL;
        INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0);
        """;

    /// <summary>Postgres: steps 1 to 6 of the migrations before the relational core, as they stood, and their record.</summary>
    public const string PostgresSchemaV6 = """
        CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL);
        CREATE TABLE entities (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name text COLLATE "C" NOT NULL UNIQUE,
            admin boolean NOT NULL,
            created_at timestamptz NOT NULL
        );
        CREATE TABLE api_keys (
            id text COLLATE "C" PRIMARY KEY,
            entity_id bigint NOT NULL REFERENCES entities(id),
            name text NOT NULL,
            key_hash text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        );
        CREATE INDEX api_keys_entity ON api_keys(entity_id);
        CREATE TABLE projects (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            entity_id bigint NOT NULL REFERENCES entities(id),
            name text COLLATE "C" NOT NULL,
            created_at timestamptz NOT NULL,
            UNIQUE (entity_id, name)
        );
        CREATE TABLE runs (
            seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            id text COLLATE "C" NOT NULL UNIQUE,
            entity_id bigint NOT NULL REFERENCES entities(id),
            project_id bigint NOT NULL REFERENCES projects(id),
            name text NOT NULL,
            state text NOT NULL,
            config text NOT NULL,
            summary text NOT NULL,
            host text,
            os text,
            program text,
            python_version text,
            exit_code integer,
            created_at timestamptz NOT NULL,
            started_at timestamptz,
            ended_at timestamptz,
            heartbeat_at timestamptz,
            stop_requested boolean NOT NULL,
            last_step bigint,
            log_lines bigint NOT NULL
        );
        CREATE INDEX runs_entity ON runs(entity_id, seq);
        CREATE INDEX runs_project ON runs(project_id, seq);
        CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running';
        CREATE TABLE history (
            run_seq bigint NOT NULL,
            step bigint NOT NULL,
            time double precision NOT NULL,
            data text NOT NULL,
            PRIMARY KEY (run_seq, step)
        );
        CREATE TABLE console (
            run_seq bigint NOT NULL,
            line bigint NOT NULL,
            stream text NOT NULL,
            text text NOT NULL,
            time double precision NOT NULL,
            PRIMARY KEY (run_seq, line)
        );
        CREATE TABLE blobs (
            digest text COLLATE "C" PRIMARY KEY,
            size bigint NOT NULL,
            created_at timestamptz NOT NULL
        );
        CREATE TABLE entity_blobs (
            entity_id bigint NOT NULL REFERENCES entities(id),
            digest text COLLATE "C" NOT NULL REFERENCES blobs(digest),
            PRIMARY KEY (entity_id, digest)
        );
        CREATE TABLE artifact_collections (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            project_id bigint NOT NULL REFERENCES projects(id),
            name text COLLATE "C" NOT NULL,
            type text NOT NULL,
            created_at timestamptz NOT NULL,
            UNIQUE (project_id, name)
        );
        CREATE TABLE artifact_versions (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            collection_id bigint NOT NULL REFERENCES artifact_collections(id),
            version integer NOT NULL,
            digest text COLLATE "C" NOT NULL,
            size bigint NOT NULL,
            file_count integer NOT NULL,
            metadata text NOT NULL,
            created_by_run_seq bigint REFERENCES runs(seq),
            created_at timestamptz NOT NULL,
            UNIQUE (collection_id, version),
            UNIQUE (collection_id, digest)
        );
        CREATE TABLE artifact_files (
            version_id bigint NOT NULL REFERENCES artifact_versions(id),
            path text COLLATE "C" NOT NULL,
            size bigint NOT NULL,
            digest text COLLATE "C" NOT NULL,
            PRIMARY KEY (version_id, path)
        );
        CREATE TABLE artifact_aliases (
            collection_id bigint NOT NULL REFERENCES artifact_collections(id),
            alias text COLLATE "C" NOT NULL,
            version_id bigint NOT NULL REFERENCES artifact_versions(id),
            PRIMARY KEY (collection_id, alias)
        );
        CREATE INDEX artifact_aliases_version ON artifact_aliases(version_id);
        CREATE TABLE run_artifacts (
            run_seq bigint NOT NULL REFERENCES runs(seq),
            version_id bigint NOT NULL REFERENCES artifact_versions(id),
            role text NOT NULL CHECK (role IN ('used', 'produced')),
            created_at timestamptz NOT NULL,
            PRIMARY KEY (run_seq, role, version_id)
        );
        ALTER TABLE api_keys ADD COLUMN run_id text COLLATE "C";
        CREATE INDEX api_keys_run ON api_keys(run_id) WHERE run_id IS NOT NULL;
        CREATE TABLE queues (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            entity_id bigint NOT NULL REFERENCES entities(id),
            name text COLLATE "C" NOT NULL,
            resource text NOT NULL,
            config text NOT NULL,
            template_variables text NOT NULL,
            max_attempts integer NOT NULL,
            start_timeout_seconds integer NOT NULL,
            created_at timestamptz NOT NULL,
            UNIQUE (entity_id, name)
        );
        CREATE TABLE items (
            seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            id text COLLATE "C" NOT NULL UNIQUE,
            queue_id bigint NOT NULL REFERENCES queues(id),
            entity_id bigint NOT NULL REFERENCES entities(id),
            state text NOT NULL,
            priority integer NOT NULL,
            attempt integer NOT NULL,
            max_attempts integer NOT NULL,
            job text NOT NULL,
            job_definition text NOT NULL,
            project text NOT NULL,
            run_id text COLLATE "C",
            config text NOT NULL,
            resource_args text NOT NULL,
            template_values text NOT NULL,
            entrypoint text,
            phase text,
            error text,
            agent_id text,
            idempotency_key text COLLATE "C",
            created_at timestamptz NOT NULL,
            claimed_at timestamptz,
            started_at timestamptz,
            ended_at timestamptz,
            lease_expires_at timestamptz,
            cancel_requested boolean NOT NULL,
            UNIQUE (entity_id, idempotency_key)
        );
        CREATE INDEX items_pending ON items(queue_id, priority, seq) WHERE state = 'pending';
        CREATE INDEX items_held ON items(lease_expires_at) WHERE lease_expires_at IS NOT NULL;
        CREATE INDEX items_starting ON items(claimed_at) WHERE state IN ('leased', 'starting');
        CREATE INDEX items_queue ON items(queue_id, seq);
        CREATE INDEX items_run ON items(run_id) WHERE run_id IS NOT NULL;
        CREATE TABLE agents (
            id text COLLATE "C" PRIMARY KEY,
            entity_id bigint NOT NULL REFERENCES entities(id),
            name text NOT NULL,
            queues text NOT NULL,
            version text,
            host text,
            max_jobs integer NOT NULL,
            state text NOT NULL,
            running_items integer NOT NULL,
            registered_at timestamptz NOT NULL,
            heartbeat_at timestamptz NOT NULL,
            stop_requested boolean NOT NULL
        );
        CREATE INDEX agents_entity ON agents(entity_id, heartbeat_at);
        ALTER TABLE runs ADD COLUMN crash_on_silence boolean NOT NULL DEFAULT TRUE;
        ALTER TABLE runs ADD COLUMN wandb text;
        DROP INDEX runs_running;
        CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running' AND crash_on_silence;
        CREATE TABLE web_sessions (
            hash text PRIMARY KEY,
            key_id text NOT NULL REFERENCES api_keys(id),
            created_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL
        );
        CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
        CREATE INDEX runs_project_state ON runs(project_id, state, seq);
        CREATE TABLE console_archives (
            run_seq bigint PRIMARY KEY REFERENCES runs(seq),
            lines bigint NOT NULL,
            sha256 text COLLATE "C",
            size bigint,
            sealed_at timestamptz NOT NULL,
            archived_at timestamptz
        );
        CREATE INDEX runs_ended ON runs(ended_at, id) WHERE ended_at IS NOT NULL;
        INSERT INTO schema_migrations (version, applied_at) VALUES (1, now()), (2, now()), (3, now()), (4, now()), (5, now()), (6, now());
        """;
}
