namespace Liftoff.Server.Storage;

/// <summary>Entities (users and teams), team memberships, API keys and secrets.</summary>
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

    /// <summary>
    /// Creates a team with user <paramref name="adminId"/> as its first admin, in one transaction. Throws
    /// <see cref="DuplicateException"/> when the name is taken by a user or a team.
    /// </summary>
    Task<EntityRecord> CreateTeamAsync(string name, long adminId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Adds user <paramref name="userId"/> to the team with <paramref name="role"/>, or changes their role (a member keeps
    /// the time they joined). Throws <see cref="MembershipConflictException"/> when that demotes the team's last admin.
    /// </summary>
    Task<MemberRecord> SetMemberAsync(long teamId, long userId, EntityRole role, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// False when the user is not a member. Throws <see cref="MembershipConflictException"/> when they are the team's last
    /// admin.
    /// </summary>
    Task<bool> RemoveMemberAsync(long teamId, long userId, CancellationToken cancellationToken);

    /// <summary>The team's members by name.</summary>
    Task<IReadOnlyList<MemberRecord>> ListMembersAsync(long teamId, CancellationToken cancellationToken);

    /// <summary>
    /// The teams user <paramref name="userId"/> belongs to, by name, with their role; with <paramref name="all"/>, every
    /// team (a role only where they belong).
    /// </summary>
    Task<IReadOnlyList<TeamRecord>> ListTeamsAsync(long userId, bool all, CancellationToken cancellationToken);

    /// <summary>Entity <paramref name="entity"/> and the role user <paramref name="userId"/> has in it; null when there is no such entity.</summary>
    Task<EntityAccess?> FindAccessAsync(string entity, long userId, CancellationToken cancellationToken);

    /// <summary>Where the user acts when a request names no entity; null: themselves.</summary>
    Task SetDefaultEntityAsync(long userId, long? entityId, CancellationToken cancellationToken);

    /// <summary>
    /// Creates service account <paramref name="name"/> of team <paramref name="teamId"/> acting there as <paramref name="role"/>.
    /// Throws <see cref="DuplicateException"/> when the team has, or had, an account of that name.
    /// </summary>
    Task<ServiceAccountRecord> CreateServiceAccountAsync(long teamId, string name, EntityRole role, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The team's service accounts that are not deleted, by name.</summary>
    Task<IReadOnlyList<ServiceAccountRecord>> ListServiceAccountsAsync(long teamId, CancellationToken cancellationToken);

    /// <summary>The team's service account <paramref name="name"/>; null when there is none or it was deleted.</summary>
    Task<ServiceAccountRecord?> FindServiceAccountAsync(long teamId, string name, CancellationToken cancellationToken);

    /// <summary>Deletes the account and revokes its keys, in one transaction; null when there is no such (undeleted) account.</summary>
    Task<ServiceAccountRecord?> DeleteServiceAccountAsync(long teamId, string name, DateTimeOffset at, CancellationToken cancellationToken);
}

/// <summary>
/// A key to store; <paramref name="RunId"/> scopes it to one run (the key a launched job gets), <paramref name="AgentQueues"/>
/// to agent work on those queues.
/// </summary>
internal sealed record NewKey(string Id, string Name, string Hash, DateTimeOffset CreatedAt, string? RunId = null, IReadOnlyList<string>? AgentQueues = null);

/// <summary>A web app session: the hash of its secret (the cookie holds the secret) and the key that opened it.</summary>
internal sealed record NewSession(string Hash, string KeyId, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);
