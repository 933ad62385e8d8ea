namespace Liftoff.Server.Storage;

/// <summary>Entities, their API keys and their secrets.</summary>
internal interface IIdentityStore
{
    /// <summary>Creates an entity with its first key in one transaction. Throws <see cref="DuplicateException"/> when the name is taken.</summary>
    Task<EntityRecord> CreateEntityAsync(string name, bool admin, NewKey firstKey, CancellationToken cancellationToken);

    Task<EntityRecord?> FindEntityAsync(string name, CancellationToken cancellationToken);

    Task<EntityRecord?> FindAdminAsync(CancellationToken cancellationToken);

    Task AddKeyAsync(long entityId, NewKey key, CancellationToken cancellationToken);

    /// <summary>The principal of an active (not revoked) key, by the hash of its secret.</summary>
    Task<KeyPrincipal?> FindKeyAsync(string keyHash, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(long entityId, CancellationToken cancellationToken);

    /// <summary>False when the entity has no such key.</summary>
    Task<bool> RevokeKeyAsync(long entityId, string keyId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Stores a web app session opened with an active key; sessions expired before its creation are dropped.</summary>
    Task CreateSessionAsync(NewSession session, CancellationToken cancellationToken);

    /// <summary>
    /// The principal of the key that opened the session, while the session has not expired at <paramref name="now"/> and
    /// that key is not revoked (revoking a key ends its sessions).
    /// </summary>
    Task<KeyPrincipal?> FindSessionAsync(string sessionHash, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Ends a session (sign out); nothing happens when there is none.</summary>
    Task DeleteSessionAsync(string sessionHash, CancellationToken cancellationToken);

    /// <summary>Creates or replaces a secret of the entity; a replaced secret keeps its creation time.</summary>
    Task<SecretRecord> SetSecretAsync(long entityId, string name, string ciphertext, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The entity's secrets by name, with their ciphertexts.</summary>
    Task<IReadOnlyList<SecretRecord>> ListSecretsAsync(long entityId, CancellationToken cancellationToken);

    /// <summary>False when the entity has no such secret.</summary>
    Task<bool> DeleteSecretAsync(long entityId, string name, CancellationToken cancellationToken);
}

/// <summary>A key to store; <paramref name="RunId"/> scopes it to one run (the key a launched job gets).</summary>
internal sealed record NewKey(string Id, string Name, string Hash, DateTimeOffset CreatedAt, string? RunId = null);

/// <summary>A web app session: the hash of its secret (the cookie holds the secret) and the key that opened it.</summary>
internal sealed record NewSession(string Hash, string KeyId, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);
