using System.Text.Json;
using Liftoff.Contracts;

namespace Liftoff.Server.Storage.Relational;

/// <summary>
/// The store on a SQL database (SQLite or PostgreSQL), one partial file per capability. Every read-modify-write reads
/// the rows it changes with <see cref="RelationalDatabase.LockRows"/> inside one transaction, so replicas on one
/// PostgreSQL never lose each other's updates (SQLite has one writer, and the lock is empty); the writes that follow
/// the reads go together (<see cref="DbSession.ExecuteAsync(IReadOnlyList{Sql}, CancellationToken)"/>).
/// </summary>
internal sealed partial class RelationalStore(RelationalDatabase database) : IIdentityStore
{
    private const string PrincipalSelect = "SELECT k.id, e.id, e.name, e.admin, k.run_id, d.name, k.agent_queues, sa.team_id, t.name, sa.role";

    private const string PrincipalJoins = """
        JOIN entities e ON e.id = k.entity_id LEFT JOIN entities d ON d.id = e.default_entity_id
        LEFT JOIN service_accounts sa ON sa.entity_id = e.id LEFT JOIN entities t ON t.id = sa.team_id
        """;

    public Task<EntityRecord> CreateEntityAsync(string name, bool admin, NewKey firstKey, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            var createdAt = firstKey.CreatedAt;
            var id = await session.ScalarAsync(
                "INSERT INTO entities (name, admin, created_at) VALUES (@name, @admin, @at) ON CONFLICT (name) DO NOTHING RETURNING id",
                cancellationToken, ("@name", name), ("@admin", admin), ("@at", createdAt)) as long?
                ?? throw new DuplicateException($"the name '{name}' is taken");
            await session.ExecuteAsync([KeyInsert(id, firstKey)], cancellationToken);
            return new EntityRecord(id, name, admin, createdAt);
        }, cancellationToken);

    public Task<EntityRecord?> FindEntityAsync(string name, CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync("SELECT id, name, admin, created_at, kind FROM entities WHERE name = @name",
            EntityRow, cancellationToken, ("@name", name)), cancellationToken);

    public Task<EntityRecord?> FindAdminAsync(CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync("SELECT id, name, admin, created_at, kind FROM entities WHERE admin = @admin ORDER BY id LIMIT 1",
            EntityRow, cancellationToken, ("@admin", true)), cancellationToken);

    public Task AddKeyAsync(long entityId, NewKey key, CancellationToken cancellationToken) =>
        database.WriteAsync(session => session.ExecuteAsync([KeyInsert(entityId, key)], cancellationToken), cancellationToken);

    public Task<KeyPrincipal?> FindKeyAsync(string keyHash, CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync(
            $"{PrincipalSelect} FROM api_keys k {PrincipalJoins} WHERE k.key_hash = @hash AND k.revoked_at IS NULL",
            PrincipalRow, cancellationToken, ("@hash", keyHash)), cancellationToken);

    public Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ApiKeyRecord>>(async session => await session.ListAsync(
            "SELECT id, name, created_at, revoked_at, agent_queues FROM api_keys WHERE entity_id = @e AND run_id IS NULL ORDER BY created_at, id",
            r => new ApiKeyRecord(r.String(0), entityId, r.String(1), r.Time(2), r.NullableTime(3), AgentQueues(r.NullableString(4))), cancellationToken, ("@e", entityId)), cancellationToken);

    public Task<bool> RevokeKeyAsync(long entityId, string keyId, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async session => await session.ExecuteAsync(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, @at) WHERE id = @id AND entity_id = @e",
            cancellationToken, ("@at", at), ("@id", keyId), ("@e", entityId)) == 1, cancellationToken);

    public Task CreateSessionAsync(NewSession session, CancellationToken cancellationToken) =>
        database.WriteAsync(s => s.ExecuteAsync([
            new Sql("DELETE FROM web_sessions WHERE expires_at <= @now", ("@now", session.CreatedAt)),
            new Sql("INSERT INTO web_sessions (hash, key_id, created_at, expires_at) VALUES (@hash, @key, @at, @expires)",
                ("@hash", session.Hash), ("@key", session.KeyId), ("@at", session.CreatedAt), ("@expires", session.ExpiresAt)),
        ], cancellationToken), cancellationToken);

    public Task<KeyPrincipal?> FindSessionAsync(string sessionHash, DateTimeOffset now, CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync($"""
            {PrincipalSelect} FROM web_sessions s JOIN api_keys k ON k.id = s.key_id {PrincipalJoins}
            WHERE s.hash = @hash AND s.expires_at > @now AND k.revoked_at IS NULL
            """, PrincipalRow, cancellationToken, ("@hash", sessionHash), ("@now", now)), cancellationToken);

    public Task DeleteSessionAsync(string sessionHash, CancellationToken cancellationToken) =>
        database.WriteAsync(session => session.ExecuteAsync("DELETE FROM web_sessions WHERE hash = @hash", cancellationToken, ("@hash", sessionHash)), cancellationToken);

    public Task<SecretRecord> SetSecretAsync(long entityId, string name, string ciphertext, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async session => (await session.FirstAsync("""
            INSERT INTO secrets (entity_id, name, ciphertext, created_at, updated_at) VALUES (@e, @name, @c, @at, @at)
            ON CONFLICT (entity_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
            RETURNING name, ciphertext, created_at, updated_at
            """, SecretRow, cancellationToken, ("@e", entityId), ("@name", name), ("@c", ciphertext), ("@at", at)))!, cancellationToken);

    public Task<IReadOnlyList<SecretRecord>> ListSecretsAsync(long entityId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<SecretRecord>>(async session => await session.ListAsync(
            "SELECT name, ciphertext, created_at, updated_at FROM secrets WHERE entity_id = @e ORDER BY name",
            SecretRow, cancellationToken, ("@e", entityId)), cancellationToken);

    public Task<bool> DeleteSecretAsync(long entityId, string name, CancellationToken cancellationToken) =>
        database.WriteAsync(async session => await session.ExecuteAsync(
            "DELETE FROM secrets WHERE entity_id = @e AND name = @name", cancellationToken, ("@e", entityId), ("@name", name)) == 1, cancellationToken);

    private static SecretRecord SecretRow(Row r) => new(r.String(0), r.String(1), r.Time(2), r.Time(3));

    private static Sql KeyInsert(long entityId, NewKey key) =>
        new("INSERT INTO api_keys (id, entity_id, name, key_hash, created_at, run_id, agent_queues) VALUES (@id, @e, @name, @hash, @at, @run, @queues)",
            ("@id", key.Id), ("@e", entityId), ("@name", key.Name), ("@hash", key.Hash), ("@at", key.CreatedAt), ("@run", key.RunId),
            ("@queues", key.AgentQueues is { } queues ? JsonSerializer.Serialize(queues, LiftoffJsonContext.Default.IReadOnlyListString) : null));

    private static IReadOnlyList<string>? AgentQueues(string? json) => json is null ? null : JsonSerializer.Deserialize(json, LiftoffJsonContext.Default.IReadOnlyListString);

    private static EntityRecord EntityRow(Row r) => new(r.Long(0), r.String(1), r.Bool(2), r.Time(3), r.String(4));

    private static KeyPrincipal PrincipalRow(Row r) => new(r.String(0), r.Long(1), r.String(2), r.Bool(3), r.NullableString(4), r.NullableString(5),
        r.NullableString(9) is { } role ? new AccountScope(r.Long(7), r.String(8), EntityRoles.Parse(role)!.Value) : null,
        AgentQueues(r.NullableString(6)) is { } queues ? string.Join(',', queues) : null);
}
