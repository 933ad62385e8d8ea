using Liftoff.Server.Storage;
using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Liftoff.Testing;
using Xunit;

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

    [Fact]
    public async Task ClaimProbe_SeeksTheClaimIndexInClaimOrder_WithoutASort()
    {
        var plan = await _database!.ReadAsync(session => session.ListAsync("EXPLAIN QUERY PLAN " + SqliteDatabase.ClaimProbe, r => r.String(3), default, ("@q", 1L)), default);

        Assert.Contains(plan, step => step.Contains("SEARCH items USING INDEX items_claimable (queue_id=?)", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
    }

    public override Task DisposeAsync()
    {
        _database?.Dispose();
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
