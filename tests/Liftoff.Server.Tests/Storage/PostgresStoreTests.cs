using Liftoff.Server.Storage;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Relational;
using Liftoff.Testing;

namespace Liftoff.Server.Tests.Storage;

/// <summary>The store contract on PostgreSQL, each test in a schema of its own.</summary>
public sealed class PostgresStoreTests : StoreContract
{
    private PostgresSchema? _schema;
    private PostgresDatabase? _database;

    private protected override async Task<(IIdentityStore Identities, IRunStore Runs, IArtifactStore Artifacts, IQueueStore Queues, IAuditStore Audit)> CreateStoreAsync()
    {
        _schema = await PostgresSchema.CreateAsync();
        _database = new PostgresDatabase(_schema.ConnectionString);
        await Migrations.ApplyAsync(_database, default);
        var store = new RelationalStore(_database);
        return (store, store, store, store, store);
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
