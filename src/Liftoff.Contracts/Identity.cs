namespace Liftoff.Contracts;

/// <summary>Who the key belongs to; <see cref="DefaultEntity"/> is where requests naming no entity act (null: the caller).</summary>
public sealed record Viewer(string Entity, string KeyId, bool Admin, string? DefaultEntity = null);

public sealed record CreateUserRequest(string? Name);

/// <summary>
/// Creates an API key; with <see cref="Agent"/>, an agent-only key limited to agent work (claim, heartbeat, report, read
/// what a launch needs) on <see cref="Queues"/>.
/// </summary>
public sealed record CreateKeyRequest(string? Name = null, bool? Agent = null, IReadOnlyList<string>? Queues = null);

/// <summary>A key as created: the only time <see cref="Key"/> is ever shown. <see cref="AgentQueues"/>: an agent-only key's queues.</summary>
public sealed record CreatedKey(string Id, string Name, string Key, DateTimeOffset CreatedAt, IReadOnlyList<string>? AgentQueues = null);

public sealed record CreatedUser(string Entity, CreatedKey Key);

public sealed record ApiKeyInfo(string Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, IReadOnlyList<string>? AgentQueues = null);

public sealed record ApiKeyList(IReadOnlyList<ApiKeyInfo> Keys);

/// <summary>Signs the web app in: the key is sent once, in the body, and exchanged for an HttpOnly session cookie.</summary>
public sealed record SignInRequest(string? Key);

/// <summary>The signed-in web session: who it speaks for and the CSRF token its state-changing requests carry.</summary>
public sealed record WebSession(string Entity, bool Admin, string CsrfToken);

/// <summary>Creates a team (server admin only) with <see cref="Admin"/>, an existing user, as its first admin.</summary>
public sealed record CreateTeamRequest(string? Name, string? Admin);

/// <summary>A member of a team: <see cref="Role"/> is <c>viewer</c>, <c>member</c> or <c>admin</c>.</summary>
public sealed record TeamMember(string User, string Role, DateTimeOffset JoinedAt);

public sealed record TeamInfo(string Name, DateTimeOffset CreatedAt, IReadOnlyList<TeamMember> Members);

/// <summary>A team as listed for the caller: their role, or null where the server admin lists a team they are not in.</summary>
public sealed record TeamSummary(string Name, string? Role, DateTimeOffset CreatedAt);

public sealed record TeamList(IReadOnlyList<TeamSummary> Teams);

/// <summary>Adds a user to a team or changes their role: <c>viewer</c>, <c>member</c> or <c>admin</c>.</summary>
public sealed record SetMemberRequest(string? Role);

/// <summary>Creates a service account of a team, acting there as <see cref="Role"/>: <c>viewer</c>, <c>member</c> (the default) or <c>admin</c>.</summary>
public sealed record CreateServiceAccountRequest(string? Name, string? Role = null);

/// <summary>A team's service account; <see cref="Actor"/> (<c>NAME@TEAM</c>) is how the audit log and item submitters name it.</summary>
public sealed record ServiceAccountInfo(string Name, string Team, string Role, string Actor, DateTimeOffset CreatedAt);

public sealed record ServiceAccountList(IReadOnlyList<ServiceAccountInfo> ServiceAccounts);

/// <summary>Where the caller acts when a request names no entity: a team of theirs, or null for themselves.</summary>
public sealed record SetDefaultEntityRequest(string? Entity);
