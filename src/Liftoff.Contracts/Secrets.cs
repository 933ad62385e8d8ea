namespace Liftoff.Contracts;

/// <summary>Sets a secret's value; the only request that carries it. No response ever returns it.</summary>
public sealed record SetSecretRequest(string? Value);

/// <summary>A secret as listed: its name and dates, never its value.</summary>
public sealed record SecretInfo(string Name, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record SecretList(IReadOnlyList<SecretInfo> Secrets);
