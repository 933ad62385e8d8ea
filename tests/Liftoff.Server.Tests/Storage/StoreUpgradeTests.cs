using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Storage;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>
/// A database made by the schema before the relational core (<see cref="TodaysSchema"/>), with a row in every table,
/// migrates to the current schema with every row kept and readable through the store, under the user entity it had.
/// </summary>
public abstract class StoreUpgradeTests : IAsyncLifetime
{
    private static readonly string[] Tables =
    [
        "entities", "api_keys", "web_sessions", "projects", "runs", "history", "console", "console_archives", "blobs", "entity_blobs",
        "artifact_collections", "artifact_versions", "artifact_files", "artifact_aliases", "run_artifacts", "queues", "items", "agents",
    ];

    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
    private static readonly DateTimeOffset T1 = T0.AddSeconds(5);
    private static readonly DateTimeOffset T2 = T0.AddMinutes(3);

    private static readonly RunRecord Run = new(
        Id: "r1", Entity: "alice", Project: "proj", Name: "run one", State: RunStates.Finished, ConfigJson: """{"lr": 0.1}""",
        SummaryJson: """{"loss": 0.5}""", Host: "host-1", Os: "linux", Program: "train.py", PythonVersion: "3.11.7", ExitCode: 0,
        CreatedAt: T0, StartedAt: T1, EndedAt: T2, HeartbeatAt: T2, StopRequested: false, LastStep: 1, LogLines: 2,
        CrashOnSilence: false, WandbJson: """{"entity": "alice"}""");

    private static readonly ItemRecord Item = new(
        Id: "i1", Queue: "default", Entity: "alice", State: ItemStates.Running, Priority: 1, Attempt: 2, MaxAttempts: 3, Job: "train:v0",
        JobDefinitionJson: """{"entrypoint": ["python"]}""", Project: "proj", RunId: "r1", ConfigJson: """{"lr": 0.1}""",
        ResourceArgsJson: """{"local-process": {}}""", TemplateValuesJson: """{"gpus": 1}""", EntrypointJson: """["python", "train.py"]""",
        Phase: "run", Error: null, AgentId: "a1", IdempotencyKey: "idem-1", CreatedAt: T0, ClaimedAt: T1, StartedAt: T1, EndedAt: null,
        LeaseExpiresAt: T2, CancelRequested: true);

    private protected abstract RelationalDatabase Database { get; }

    private protected abstract string Schema { get; }

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    [Fact]
    public async Task Migrate_ADatabaseOfTheSchemaBeforeTheCore_KeepsEveryRowReadable()
    {
        await Database.WriteAsync(async session =>
        {
            await session.ExecuteAsync(Schema, default);
            return await session.ExecuteAsync(Rows(), default);
        }, default);
        var before = await CountRowsAsync();

        await Migrations.ApplyAsync(Database, default);

        Assert.Equal(before, await CountRowsAsync());
        Assert.All(before, table => Assert.True(table.Value > 0, $"{table.Key} has a row"));
        var store = new RelationalStore(Database);
        Assert.Equal(new EntityRecord(1, "alice", true, T0, EntityKinds.User), await store.FindEntityAsync("alice", default));
        Assert.Equal(new EntityAccess(1, "alice", EntityKinds.User, EntityRole.Admin), await store.FindAccessAsync("alice", 1, default));
        Assert.Empty(await store.ListTeamsAsync(1, all: true, default));
        Assert.Equal(new KeyPrincipal("k2", 1, "alice", true, "r1"), await store.FindKeyAsync("hash-2", default));
        Assert.Equal([new ApiKeyRecord("k1", 1, "first", T0, null)], await store.ListKeysAsync(1, default));
        Assert.Equal(new KeyPrincipal("k1", 1, "alice", true), await store.FindSessionAsync("session-1", T1, default));
        Assert.Equal([new ProjectRecord("alice", "proj", T0, 1)], await store.ListProjectsAsync(1, default));
        Assert.Equal(Run, await store.GetRunAsync(1, "r1", default));
        Assert.Equal([new StoredHistoryRow(0, 1.5, """{"loss": 1}"""), new StoredHistoryRow(1, 2.5, """{"loss": 0.5}""")], await store.ReadHistoryAsync("r1", -1, 10, default));
        Assert.Equal([new StoredLogLine(0, "stdout", "hello", 1.25), new StoredLogLine(1, "stderr", "world", 2.5)], await store.ReadLogsAsync("r1", -1, 10, default));
        Assert.Equal(new ConsoleArchive(2, null, null), await store.GetConsoleArchiveAsync("r1", default));
        Assert.Equal(new Dictionary<string, long> { ["d1"] = 5 }, await store.FindBlobsAsync(1, ["d1", "d2"], default));

        var version = (await store.GetVersionAsync(1, "proj", "model", "best", default))!;
        Assert.Equal(("model", "model", 0, "vd", 5L, 1, """{"m": 1}""", "r1", T1), (version.Name, version.Type, version.Version, version.Digest, version.Size, version.FileCount, version.MetadataJson, version.ProducedBy, version.CreatedAt));
        Assert.Equal([ArtifactRefs.Latest, "best"], version.Aliases);
        Assert.Equal([new ManifestEntry("w.bin", 5, "d1")], version.Files!);
        Assert.Equal([0], (await store.ListRunArtifactsAsync(1, "r1", default))!.Produced.Select(v => v.Version));

        var queue = (await store.GetQueueAsync(1, "default", default))!;
        Assert.Equal((1L, "local-process", """{"image": "x"}""", 3, 1800, T0), (queue.Id, queue.Resource, queue.ConfigJson, queue.MaxAttempts, queue.StartTimeoutSeconds, queue.CreatedAt));
        Assert.Equal("gpus", Assert.Single(queue.TemplateVariables).Name);
        Assert.Equal(Item with { SubmittedBy = "alice" }, await store.GetItemAsync(1, "i1", default));
        var agent = (await store.GetAgentAsync(1, "a1", default))!;
        Assert.Equal(("agent-1", "1.2.3", "host-1", 2, "polling", 1, T0, T1, true), (agent.Name, agent.Version, agent.Host, agent.MaxJobs, agent.State, agent.RunningItems, agent.RegisteredAt, agent.HeartbeatAt, agent.StopRequested));
        Assert.Equal(["default"], agent.Queues);

        // The generated keys continue after the copied rows.
        Assert.True(await store.TryCreateRunAsync(1, Run with { Id = "r2" }, default));
        Assert.Equal(["r2", "r1"], (await store.ListRunsAsync(new RunQuery(1, null, null, 10, null), default)).Runs.Select(r => r.Id));
    }

    [Fact]
    public async Task Migrate_PendingItems_KeepTheirClaimOrder_AndNewOnesQueueBehindThem()
    {
        string[] ids = ["p1", "p2", "p3", "p4", "p5"];
        await Database.WriteAsync(async session =>
        {
            await session.ExecuteAsync(Schema, default);
            return await session.ExecuteAsync([
                .. Rows(),
                .. ids.Select((id, i) => new Sql("""
                    INSERT INTO items (id, queue_id, entity_id, state, priority, attempt, max_attempts, job, job_definition, project, config,
                        resource_args, template_values, created_at, cancel_requested)
                    VALUES (@id, 1, 1, 'pending', @priority, 1, 3, 'train:v0', '{}', 'proj', '{}', '{}', '{}', @t0, @false)
                    """, ("@id", id), ("@priority", i % 2 == 0 ? 2 : 1), ("@t0", T0), ("@false", false))),
            ], default);
        }, default);

        await Migrations.ApplyAsync(Database, default);

        var store = new RelationalStore(Database);
        Assert.False((await store.GetQueueAsync(1, "default", default))!.Paused);
        Assert.Equal(["p2", "p4", "p1", "p3", "p5"], (await store.ListItemsAsync(1, ItemStates.Pending, 10, default)).Select(i => i.Id));
        await store.EnqueueAsync(1, 1, Item with { Id = "p6", State = ItemStates.Pending, Priority = 1, Attempt = 1, RunId = null, IdempotencyKey = null }, default);
        Assert.Equal(["p2", "p4", "p6", "p1", "p3", "p5"], (await store.ListItemsAsync(1, ItemStates.Pending, 10, default)).Select(i => i.Id));
    }

    /// <summary>A row in every table, written as the server of that schema wrote them (its time and boolean encodings).</summary>
    private static Sql[] Rows() =>
    [
        new("INSERT INTO entities (name, admin, created_at) VALUES ('alice', @true, @t0)", ("@true", true), ("@t0", T0)),
        new("INSERT INTO api_keys (id, entity_id, name, key_hash, created_at, revoked_at, run_id) VALUES ('k1', 1, 'first', 'hash-1', @t0, NULL, NULL), ('k2', 1, 'run key', 'hash-2', @t0, NULL, 'r1')", ("@t0", T0)),
        new("INSERT INTO web_sessions (hash, key_id, created_at, expires_at) VALUES ('session-1', 'k1', @t0, @t2)", ("@t0", T0), ("@t2", T2)),
        new("INSERT INTO projects (entity_id, name, created_at) VALUES (1, 'proj', @t0)", ("@t0", T0)),
        new("""
            INSERT INTO runs (id, entity_id, project_id, name, state, config, summary, host, os, program, python_version, exit_code,
                created_at, started_at, ended_at, heartbeat_at, stop_requested, last_step, log_lines, crash_on_silence, wandb)
            VALUES ('r1', 1, 1, @name, @state, @config, @summary, @host, @os, @program, @python, 0, @t0, @t1, @t2, @t2, @false, 1, 2, @false, @wandb)
            """, ("@name", Run.Name), ("@state", Run.State), ("@config", Run.ConfigJson), ("@summary", Run.SummaryJson), ("@host", Run.Host), ("@os", Run.Os),
            ("@program", Run.Program), ("@python", Run.PythonVersion), ("@t0", T0), ("@t1", T1), ("@t2", T2), ("@false", false), ("@wandb", Run.WandbJson)),
        new("""INSERT INTO history (run_seq, step, time, data) VALUES (1, 0, 1.5, '{"loss": 1}'), (1, 1, 2.5, '{"loss": 0.5}')"""),
        new("INSERT INTO console (run_seq, line, stream, text, time) VALUES (1, 0, 'stdout', 'hello', 1.25), (1, 1, 'stderr', 'world', 2.5)"),
        new("INSERT INTO console_archives (run_seq, lines, sha256, size, sealed_at, archived_at) VALUES (1, 2, NULL, NULL, @t2, NULL)", ("@t2", T2)),
        new("INSERT INTO blobs (digest, size, created_at) VALUES ('d1', 5, @t0)", ("@t0", T0)),
        new("INSERT INTO entity_blobs (entity_id, digest) VALUES (1, 'd1')"),
        new("INSERT INTO artifact_collections (project_id, name, type, created_at) VALUES (1, 'model', 'model', @t0)", ("@t0", T0)),
        new("""INSERT INTO artifact_versions (collection_id, version, digest, size, file_count, metadata, created_by_run_seq, created_at) VALUES (1, 0, 'vd', 5, 1, '{"m": 1}', 1, @t1)""", ("@t1", T1)),
        new("INSERT INTO artifact_files (version_id, path, size, digest) VALUES (1, 'w.bin', 5, 'd1')"),
        new("INSERT INTO artifact_aliases (collection_id, alias, version_id) VALUES (1, 'best', 1)"),
        new("INSERT INTO run_artifacts (run_seq, version_id, role, created_at) VALUES (1, 1, 'produced', @t1)", ("@t1", T1)),
        new("""
            INSERT INTO queues (entity_id, name, resource, config, template_variables, max_attempts, start_timeout_seconds, created_at)
            VALUES (1, 'default', 'local-process', '{"image": "x"}', '[{"name": "gpus", "type": "integer", "min": 1, "max": 8}]', 3, 1800, @t0)
            """, ("@t0", T0)),
        new("""
            INSERT INTO items (id, queue_id, entity_id, state, priority, attempt, max_attempts, job, job_definition, project, run_id, config,
                resource_args, template_values, entrypoint, phase, error, agent_id, idempotency_key, created_at, claimed_at, started_at,
                ended_at, lease_expires_at, cancel_requested)
            VALUES (@id, 1, 1, @state, 1, 2, 3, @job, @definition, 'proj', 'r1', @config, @args, @values, @entrypoint, 'run', NULL, 'a1', 'idem-1',
                @t0, @t1, @t1, NULL, @t2, @true)
            """, ("@id", Item.Id), ("@state", Item.State), ("@job", Item.Job), ("@definition", Item.JobDefinitionJson), ("@config", Item.ConfigJson),
            ("@args", Item.ResourceArgsJson), ("@values", Item.TemplateValuesJson), ("@entrypoint", Item.EntrypointJson),
            ("@t0", T0), ("@t1", T1), ("@t2", T2), ("@true", true)),
        new("""
            INSERT INTO agents (id, entity_id, name, queues, version, host, max_jobs, state, running_items, registered_at, heartbeat_at, stop_requested)
            VALUES ('a1', 1, 'agent-1', '["default"]', '1.2.3', 'host-1', 2, 'polling', 1, @t0, @t1, @true)
            """, ("@t0", T0), ("@t1", T1), ("@true", true)),
    ];

    private Task<Dictionary<string, long>> CountRowsAsync() =>
        Database.ReadAsync(async session =>
        {
            var counts = new Dictionary<string, long>();
            foreach (var table in Tables)
            {
                counts[table] = (long)(await session.ScalarAsync($"SELECT COUNT(*) FROM {table}", default))!;
            }

            return counts;
        }, default);
}

public sealed class SqliteStoreUpgradeTests : StoreUpgradeTests
{
    private readonly TempDirectory _directory = new();
    private SqliteDatabase? _database;

    private protected override RelationalDatabase Database => _database!;

    private protected override string Schema => TodaysSchema.SqliteSchemaV6;

    public override Task InitializeAsync()
    {
        _database = new SqliteDatabase(Path.Combine(_directory.Path, "liftoff.db"));
        return Task.CompletedTask;
    }

    public override Task DisposeAsync()
    {
        _database?.Dispose();
        _directory.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class PostgresStoreUpgradeTests : StoreUpgradeTests
{
    private PostgresSchema? _schema;
    private PostgresDatabase? _database;

    private protected override RelationalDatabase Database => _database!;

    private protected override string Schema => TodaysSchema.PostgresSchemaV6;

    public override async Task InitializeAsync()
    {
        _schema = await PostgresSchema.CreateAsync();
        _database = new PostgresDatabase(_schema.ConnectionString);
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }
}
