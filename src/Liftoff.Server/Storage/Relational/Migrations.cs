using System.Text.RegularExpressions;

namespace Liftoff.Server.Storage.Relational;

/// <summary>
/// Forward-only, versioned schema changes, applied at server start: one logical schema, one ordered list. A step names
/// what differs between the databases by placeholders (<c>{time}</c>, <c>{bool}</c>, <c>{key}</c>: text compared
/// byte by byte, …) that each database spells in <see cref="RelationalDatabase.SchemaTerms"/>. Servers starting at once
/// on one PostgreSQL are safe: the migration's transaction first takes <see cref="RelationalDatabase.MigrationLock"/>, so
/// one applies the steps and the others wait, then find nothing to do.
/// </summary>
internal static partial class Migrations
{
    // items_starting keeps the start time-out sweep off the ended items (PostgreSQL had it from step 3).
    private static readonly (int Version, string Sql)[] Steps =
    [
        (1, """
            CREATE TABLE entities (
                id {id},
                name {key} NOT NULL UNIQUE,
                admin {bool} NOT NULL,
                created_at {time} NOT NULL
            );
            CREATE TABLE api_keys (
                id {key} PRIMARY KEY,
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                name {text} NOT NULL,
                key_hash {text} NOT NULL UNIQUE,
                created_at {time} NOT NULL,
                revoked_at {time}
            );
            CREATE INDEX api_keys_entity ON api_keys(entity_id);
            CREATE TABLE projects (
                id {id},
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                name {key} NOT NULL,
                created_at {time} NOT NULL,
                UNIQUE (entity_id, name)
            );
            CREATE TABLE runs (
                seq {seq},
                id {key} NOT NULL UNIQUE,
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                project_id {bigint} NOT NULL REFERENCES projects(id),
                name {text} NOT NULL,
                state {text} NOT NULL,
                config {text} NOT NULL,
                summary {text} NOT NULL,
                host {text},
                os {text},
                program {text},
                python_version {text},
                exit_code {int},
                created_at {time} NOT NULL,
                started_at {time},
                ended_at {time},
                heartbeat_at {time},
                stop_requested {bool} NOT NULL,
                last_step {bigint},
                log_lines {bigint} NOT NULL
            );
            CREATE INDEX runs_entity ON runs(entity_id, seq);
            CREATE INDEX runs_project ON runs(project_id, seq);
            CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running';
            CREATE TABLE history (
                run_seq {bigint} NOT NULL{runs_fk},
                step {bigint} NOT NULL,
                time {double} NOT NULL,
                data {text} NOT NULL,
                PRIMARY KEY (run_seq, step)
            ){no_rowid};
            CREATE TABLE console (
                run_seq {bigint} NOT NULL{runs_fk},
                line {bigint} NOT NULL,
                stream {text} NOT NULL,
                text {text} NOT NULL,
                time {double} NOT NULL,
                PRIMARY KEY (run_seq, line)
            ){no_rowid};
            """),
        (2, """
            CREATE TABLE blobs (
                digest {key} PRIMARY KEY,
                size {bigint} NOT NULL,
                created_at {time} NOT NULL
            ){no_rowid};
            CREATE TABLE entity_blobs (
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                digest {key} NOT NULL REFERENCES blobs(digest),
                PRIMARY KEY (entity_id, digest)
            ){no_rowid};
            CREATE TABLE artifact_collections (
                id {id},
                project_id {bigint} NOT NULL REFERENCES projects(id),
                name {key} NOT NULL,
                type {text} NOT NULL,
                created_at {time} NOT NULL,
                UNIQUE (project_id, name)
            );
            CREATE TABLE artifact_versions (
                id {id},
                collection_id {bigint} NOT NULL REFERENCES artifact_collections(id),
                version {int} NOT NULL,
                digest {key} NOT NULL,
                size {bigint} NOT NULL,
                file_count {int} NOT NULL,
                metadata {text} NOT NULL,
                created_by_run_seq {bigint} REFERENCES runs(seq),
                created_at {time} NOT NULL,
                UNIQUE (collection_id, version),
                UNIQUE (collection_id, digest)
            );
            CREATE TABLE artifact_files (
                version_id {bigint} NOT NULL REFERENCES artifact_versions(id),
                path {key} NOT NULL,
                size {bigint} NOT NULL,
                digest {key} NOT NULL,
                PRIMARY KEY (version_id, path)
            ){no_rowid};
            CREATE TABLE artifact_aliases (
                collection_id {bigint} NOT NULL REFERENCES artifact_collections(id),
                alias {key} NOT NULL,
                version_id {bigint} NOT NULL REFERENCES artifact_versions(id),
                PRIMARY KEY (collection_id, alias)
            ){no_rowid};
            CREATE INDEX artifact_aliases_version ON artifact_aliases(version_id);
            CREATE TABLE run_artifacts (
                run_seq {bigint} NOT NULL REFERENCES runs(seq),
                version_id {bigint} NOT NULL REFERENCES artifact_versions(id),
                role {text} NOT NULL CHECK (role IN ('used', 'produced')),
                created_at {time} NOT NULL,
                PRIMARY KEY (run_seq, role, version_id)
            ){no_rowid};
            """),
        (3, """
            ALTER TABLE api_keys ADD COLUMN run_id {key};
            CREATE INDEX api_keys_run ON api_keys(run_id) WHERE run_id IS NOT NULL;
            CREATE TABLE queues (
                id {id},
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                name {key} NOT NULL,
                resource {text} NOT NULL,
                config {text} NOT NULL,
                template_variables {text} NOT NULL,
                max_attempts {int} NOT NULL,
                start_timeout_seconds {int} NOT NULL,
                created_at {time} NOT NULL,
                UNIQUE (entity_id, name)
            );
            CREATE TABLE items (
                seq {seq},
                id {key} NOT NULL UNIQUE,
                queue_id {bigint} NOT NULL REFERENCES queues(id),
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                state {text} NOT NULL,
                priority {int} NOT NULL,
                attempt {int} NOT NULL,
                max_attempts {int} NOT NULL,
                job {text} NOT NULL,
                job_definition {text} NOT NULL,
                project {text} NOT NULL,
                run_id {key},
                config {text} NOT NULL,
                resource_args {text} NOT NULL,
                template_values {text} NOT NULL,
                entrypoint {text},
                phase {text},
                error {text},
                agent_id {text},
                idempotency_key {key},
                created_at {time} NOT NULL,
                claimed_at {time},
                started_at {time},
                ended_at {time},
                lease_expires_at {time},
                cancel_requested {bool} NOT NULL,
                UNIQUE (entity_id, idempotency_key)
            );
            CREATE INDEX items_pending ON items(queue_id, priority, seq) WHERE state = 'pending';
            CREATE INDEX items_held ON items(lease_expires_at) WHERE lease_expires_at IS NOT NULL;
            CREATE INDEX items_queue ON items(queue_id, seq);
            CREATE INDEX items_run ON items(run_id) WHERE run_id IS NOT NULL;
            CREATE TABLE agents (
                id {key} PRIMARY KEY,
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                name {text} NOT NULL,
                queues {text} NOT NULL,
                version {text},
                host {text},
                max_jobs {int} NOT NULL,
                state {text} NOT NULL,
                running_items {int} NOT NULL,
                registered_at {time} NOT NULL,
                heartbeat_at {time} NOT NULL,
                stop_requested {bool} NOT NULL
            );
            CREATE INDEX agents_entity ON agents(entity_id, heartbeat_at);
            """),
        (4, """
            ALTER TABLE runs ADD COLUMN crash_on_silence {bool} NOT NULL DEFAULT {true};
            ALTER TABLE runs ADD COLUMN wandb {text};
            DROP INDEX runs_running;
            CREATE INDEX runs_running ON runs(heartbeat_at) WHERE state = 'running' AND crash_on_silence = {true};
            """),
        (5, """
            CREATE TABLE web_sessions (
                hash {text} PRIMARY KEY,
                key_id {text} NOT NULL REFERENCES api_keys(id),
                created_at {time} NOT NULL,
                expires_at {time} NOT NULL
            ){no_rowid};
            CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
            CREATE INDEX runs_project_state ON runs(project_id, state, seq);
            """),
        (6, """
            CREATE TABLE console_archives (
                run_seq {bigint} PRIMARY KEY REFERENCES runs(seq),
                lines {bigint} NOT NULL,
                sha256 {key},
                size {bigint},
                sealed_at {time} NOT NULL,
                archived_at {time}
            );
            CREATE INDEX runs_ended ON runs(ended_at, id) WHERE ended_at IS NOT NULL;
            """),
        (7, """
            CREATE INDEX IF NOT EXISTS items_starting ON items(claimed_at) WHERE state IN ('leased', 'starting');
            """),
        (8, """
            CREATE TABLE secrets (
                entity_id {bigint} NOT NULL REFERENCES entities(id),
                name {key} NOT NULL,
                ciphertext {text} NOT NULL,
                created_at {time} NOT NULL,
                updated_at {time} NOT NULL,
                PRIMARY KEY (entity_id, name)
            ){no_rowid};
            """),
        // Teams. An entity is a user or a team (room for service accounts); everything a previous release stored stays
        // under the user entity it had. Items before this step were submitted by their owning entity.
        (9, """
            ALTER TABLE entities ADD COLUMN kind {text} NOT NULL DEFAULT 'user';
            ALTER TABLE entities ADD COLUMN default_entity_id {bigint} REFERENCES entities(id);
            CREATE TABLE memberships (
                team_id {bigint} NOT NULL REFERENCES entities(id),
                user_id {bigint} NOT NULL REFERENCES entities(id),
                role {text} NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
                created_at {time} NOT NULL,
                PRIMARY KEY (team_id, user_id)
            ){no_rowid};
            CREATE INDEX memberships_user ON memberships(user_id);
            ALTER TABLE items ADD COLUMN submitted_by {bigint} REFERENCES entities(id);
            UPDATE items SET submitted_by = entity_id;
            """),
        // A team queue restricted to some members: a JSON array of user names; null, every member.
        (10, """
            ALTER TABLE queues ADD COLUMN allowed_members {text};
            """),
        // The audit log: appended in the transaction of the change it records, never updated; only the retention sweep
        // deletes. No foreign keys: an entry outlives what it names. seq, so that ids are never reused after a sweep
        // (they are the paging cursor).
        (11, """
            CREATE TABLE audit_log (
                id {seq},
                at {time} NOT NULL,
                entity_id {bigint},
                entity {text},
                actor {text} NOT NULL,
                actor_kind {text} NOT NULL,
                address {text},
                action {text} NOT NULL,
                object {text},
                outcome {text} NOT NULL,
                status {int} NOT NULL,
                detail {text}
            );
            CREATE INDEX audit_log_at ON audit_log(at);
            CREATE INDEX audit_log_entity ON audit_log(entity_id, id);
            """),
        // Why a claimed item's workload is not running yet (a Slurm pending reason, a pod's), as its agent last said.
        (12, """
            ALTER TABLE items ADD COLUMN waiting_reason {text};
            """),
        // Retries by failure class (issue #17). A retried item is pending with claimable_at set until its backoff
        // ends; the claim reads items_claimable, which leaves those out, so its cost does not grow with them; the
        // reaper finds ended backoffs through items_backoff. item_events is the item's append-only history.
        (13, """
            ALTER TABLE queues ADD COLUMN retry_policy {text};
            ALTER TABLE queues ADD COLUMN max_run_seconds {int};
            ALTER TABLE items ADD COLUMN failure_class {text};
            ALTER TABLE items ADD COLUMN claimable_at {time};
            ALTER TABLE items ADD COLUMN retries {text};
            ALTER TABLE items ADD COLUMN retry_policy {text};
            ALTER TABLE items ADD COLUMN max_run_seconds {int};
            CREATE INDEX items_claimable ON items(queue_id, priority, seq) WHERE state = 'pending' AND claimable_at IS NULL;
            CREATE INDEX items_backoff ON items(claimable_at) WHERE claimable_at IS NOT NULL;
            CREATE TABLE item_events (
                seq {seq},
                item_id {key} NOT NULL,
                at {time} NOT NULL,
                state {text} NOT NULL,
                attempt {int} NOT NULL,
                failure_class {text},
                phase {text},
                message {text},
                run_id {key},
                agent_id {text},
                claimable_at {time}
            );
            CREATE INDEX item_events_item ON item_events(item_id, seq);
            INSERT INTO item_events (item_id, at, state, attempt, failure_class, phase, message, run_id, agent_id, claimable_at)
            SELECT id, COALESCE(ended_at, claimed_at, created_at), state, attempt, NULL, phase, error, run_id, agent_id, NULL FROM items ORDER BY seq;
            """),
        // Service accounts (issue #16): an entity of kind 'service_account' (named NAME@TEAM, which no user or team name
        // can take) acting in its one team with a fixed role. A deleted account keeps its row, so its name is never
        // reused and the audit log's entries about it stay unambiguous. agent_queues limits a key to agent work on
        // those queues (a JSON array); null, a full key.
        (14, """
            CREATE TABLE service_accounts (
                entity_id {bigint} PRIMARY KEY REFERENCES entities(id),
                team_id {bigint} NOT NULL REFERENCES entities(id),
                name {key} NOT NULL,
                role {text} NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
                created_at {time} NOT NULL,
                deleted_at {time},
                UNIQUE (team_id, name)
            );
            ALTER TABLE api_keys ADD COLUMN agent_queues {text};
            """),
    ];

    /// <summary>The versions of the steps, in order (other branches' steps fill the numbers between).</summary>
    public static IReadOnlyList<int> Versions => [.. Steps.Select(s => s.Version)];

    public static int LatestVersion => Steps[^1].Version;

    public static async Task ApplyAsync(RelationalDatabase database, CancellationToken cancellationToken)
    {
        await database.BeforeMigratingAsync(cancellationToken);
        await database.WriteAsync(async session =>
        {
            if (database.MigrationLock is { } migrationLock)
            {
                await session.ExecuteAsync(migrationLock, cancellationToken);
            }

            await session.ExecuteAsync(Render(database, "CREATE TABLE IF NOT EXISTS schema_migrations (version {int} PRIMARY KEY, applied_at {time} NOT NULL)"), cancellationToken);
            var current = Convert.ToInt32(await session.ScalarAsync("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
            if (current > LatestVersion)
            {
                throw new InvalidOperationException(
                    $"{database.Name} has schema version {current}, newer than this server knows ({LatestVersion}); run a newer liftoff");
            }

            foreach (var (version, sql) in Steps.Where(s => s.Version > current))
            {
                await session.ExecuteAsync(Render(database, sql), cancellationToken);
                await session.ExecuteAsync("INSERT INTO schema_migrations (version, applied_at) VALUES (@v, @at)", cancellationToken, ("@v", version), ("@at", DateTimeOffset.UtcNow));
            }

            return 0;
        }, cancellationToken);
    }

    /// <summary>The step in the database's own terms.</summary>
    public static string Render(RelationalDatabase database, string sql) => Placeholder().Replace(sql, m => database.SchemaTerms[m.Groups[1].Value]);

    [GeneratedRegex(@"\{(\w+)\}")]
    private static partial Regex Placeholder();
}
