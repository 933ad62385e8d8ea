namespace Liftoff.Contracts;

public sealed record Viewer(string Entity, string KeyId, bool Admin);

public sealed record CreateUserRequest(string? Name);

public sealed record CreateKeyRequest(string? Name);

/// <summary>A key as created: the only time <see cref="Key"/> is ever shown.</summary>
public sealed record CreatedKey(string Id, string Name, string Key, DateTimeOffset CreatedAt);

public sealed record CreatedUser(string Entity, CreatedKey Key);

public sealed record ApiKeyInfo(string Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

public sealed record ApiKeyList(IReadOnlyList<ApiKeyInfo> Keys);

/// <summary>Signs the web app in: the key is sent once, in the body, and exchanged for an HttpOnly session cookie.</summary>
public sealed record SignInRequest(string? Key);

/// <summary>The signed-in web session: who it speaks for and the CSRF token its state-changing requests carry.</summary>
public sealed record WebSession(string Entity, bool Admin, string CsrfToken);
