using Liftoff.Server.Storage;
using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Liftoff.Testing;

namespace Liftoff.Server.Tests.Storage;

public sealed class SqliteStoreTests : StoreContract
{
    private readonly TempDirectory _directory = new();
    private SqliteDatabase? _database;

    private protected override async Task<(IIdentityStore Identities, IRunStore Runs, IArtifactStore Artifacts, IQueueStore Queues, IAuditStore Audit)> CreateStoreAsync()
    {
        _database = new SqliteDatabase(Path.Combine(_directory.Path, "test.db"));
        await Migrations.ApplyAsync(_database, default);
        var store = new RelationalStore(_database);
        return (store, store, store, store, store);
    }

    public override Task DisposeAsync()
    {
        _database?.Dispose();
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
