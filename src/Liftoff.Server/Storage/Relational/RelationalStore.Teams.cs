namespace Liftoff.Server.Storage.Relational;

/// <summary>Teams, their members and their service accounts.</summary>
internal sealed partial class RelationalStore
{
    public Task<EntityRecord> CreateTeamAsync(string name, long adminId, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            var id = await session.ScalarAsync(
                "INSERT INTO entities (name, admin, created_at, kind) VALUES (@name, @admin, @at, @kind) ON CONFLICT (name) DO NOTHING RETURNING id",
                cancellationToken, ("@name", name), ("@admin", false), ("@at", at), ("@kind", EntityKinds.Team)) as long?
                ?? throw new DuplicateException($"the name '{name}' is taken");
            await session.ExecuteAsync([MemberUpsert(id, adminId, EntityRole.Admin, at)], cancellationToken);
            return new EntityRecord(id, name, false, at, EntityKinds.Team);
        }, cancellationToken);

    public Task<MemberRecord> SetMemberAsync(long teamId, long userId, EntityRole role, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (role != EntityRole.Admin)
            {
                await EnsureNotLastAdminAsync(session, teamId, userId, "demote", cancellationToken);
            }

            await session.ExecuteAsync([MemberUpsert(teamId, userId, role, at)], cancellationToken);
            return (await session.FirstAsync($"{MemberSelect} WHERE m.team_id = @t AND m.user_id = @u", MemberRow, cancellationToken, ("@t", teamId), ("@u", userId)))!;
        }, cancellationToken);

    public Task<bool> RemoveMemberAsync(long teamId, long userId, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            await EnsureNotLastAdminAsync(session, teamId, userId, "remove", cancellationToken);
            return await session.ExecuteAsync("DELETE FROM memberships WHERE team_id = @t AND user_id = @u", cancellationToken, ("@t", teamId), ("@u", userId)) == 1;
        }, cancellationToken);

    public Task<IReadOnlyList<MemberRecord>> ListMembersAsync(long teamId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<MemberRecord>>(async session => await session.ListAsync(
            $"{MemberSelect} WHERE m.team_id = @t ORDER BY u.name", MemberRow, cancellationToken, ("@t", teamId)), cancellationToken);

    public Task<IReadOnlyList<TeamRecord>> ListTeamsAsync(long userId, bool all, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<TeamRecord>>(async session => await session.ListAsync($"""
            SELECT t.id, t.name, t.created_at, m.role FROM entities t LEFT JOIN memberships m ON m.team_id = t.id AND m.user_id = @u
            WHERE t.kind = @team{(all ? "" : " AND m.role IS NOT NULL")} ORDER BY t.name
            """, r => new TeamRecord(r.Long(0), r.String(1), r.Time(2), EntityRoles.Parse(r.NullableString(3))),
            cancellationToken, ("@u", userId), ("@team", EntityKinds.Team)), cancellationToken);

    public Task<EntityAccess?> FindAccessAsync(string entity, long userId, CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync("""
            SELECT e.id, e.name, e.kind, m.role FROM entities e LEFT JOIN memberships m ON m.team_id = e.id AND m.user_id = @u
            WHERE e.name = @name AND e.kind <> @account
            """, r => new EntityAccess(r.Long(0), r.String(1), r.String(2),
                r.Long(0) == userId ? EntityRole.Admin : EntityRoles.Parse(r.NullableString(3)) ?? EntityRole.None),
            cancellationToken, ("@name", entity), ("@u", userId), ("@account", EntityKinds.ServiceAccount)), cancellationToken);

    public Task SetDefaultEntityAsync(long userId, long? entityId, CancellationToken cancellationToken) =>
        database.WriteAsync(session => session.ExecuteAsync(
            "UPDATE entities SET default_entity_id = @d WHERE id = @u", cancellationToken, ("@d", entityId), ("@u", userId)), cancellationToken);

    public Task<ServiceAccountRecord> CreateServiceAccountAsync(long teamId, string name, EntityRole role, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            var team = (string)(await session.ScalarAsync("SELECT name FROM entities WHERE id = @t", cancellationToken, ("@t", teamId)))!;
            var taken = $"team '{team}' has or had a service account named '{name}'; names are not reused, so that the audit log's entries about an account stay its own";
            if (await session.ScalarAsync("SELECT 1 FROM service_accounts WHERE team_id = @t AND name = @name", cancellationToken, ("@t", teamId), ("@name", name)) is not null)
            {
                throw new DuplicateException(taken);
            }

            var id = await session.ScalarAsync("""
                INSERT INTO entities (name, admin, created_at, kind, default_entity_id) VALUES (@name, @admin, @at, @kind, @t)
                ON CONFLICT (name) DO NOTHING RETURNING id
                """, cancellationToken, ("@name", ServiceAccounts.EntityName(name, team)), ("@admin", false), ("@at", at), ("@kind", EntityKinds.ServiceAccount), ("@t", teamId)) as long?
                ?? throw new DuplicateException(taken);
            await session.ExecuteAsync([new Sql("INSERT INTO service_accounts (entity_id, team_id, name, role, created_at) VALUES (@e, @t, @name, @role, @at)",
                ("@e", id), ("@t", teamId), ("@name", name), ("@role", EntityRoles.Name(role)), ("@at", at))], cancellationToken);
            return new ServiceAccountRecord(id, team, name, role, at);
        }, cancellationToken);

    public Task<IReadOnlyList<ServiceAccountRecord>> ListServiceAccountsAsync(long teamId, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<ServiceAccountRecord>>(async session => await session.ListAsync(
            $"{AccountSelect} WHERE a.team_id = @t AND a.deleted_at IS NULL ORDER BY a.name", AccountRow, cancellationToken, ("@t", teamId)), cancellationToken);

    public Task<ServiceAccountRecord?> FindServiceAccountAsync(long teamId, string name, CancellationToken cancellationToken) =>
        database.ReadAsync(session => session.FirstAsync(
            $"{AccountSelect} WHERE a.team_id = @t AND a.name = @name AND a.deleted_at IS NULL", AccountRow, cancellationToken, ("@t", teamId), ("@name", name)), cancellationToken);

    public Task<ServiceAccountRecord?> DeleteServiceAccountAsync(long teamId, string name, DateTimeOffset at, CancellationToken cancellationToken) =>
        database.WriteAsync(async session =>
        {
            if (await session.FirstAsync($"{AccountSelect} WHERE a.team_id = @t AND a.name = @name AND a.deleted_at IS NULL{database.LockRows("a")}",
                AccountRow, cancellationToken, ("@t", teamId), ("@name", name)) is not { } account)
            {
                return null;
            }

            await session.ExecuteAsync([
                new Sql("UPDATE service_accounts SET deleted_at = @at WHERE entity_id = @e", ("@at", at), ("@e", account.EntityId)),
                new Sql("UPDATE api_keys SET revoked_at = @at WHERE entity_id = @e AND revoked_at IS NULL", ("@at", at), ("@e", account.EntityId)),
            ], cancellationToken);
            return account with { DeletedAt = at };
        }, cancellationToken);

    private const string AccountSelect = "SELECT a.entity_id, t.name, a.name, a.role, a.created_at, a.deleted_at FROM service_accounts a JOIN entities t ON t.id = a.team_id";

    private static ServiceAccountRecord AccountRow(Row r) => new(r.Long(0), r.String(1), r.String(2), EntityRoles.Parse(r.String(3))!.Value, r.Time(4), r.NullableTime(5));

    private const string MemberSelect = "SELECT m.user_id, u.name, m.role, m.created_at FROM memberships m JOIN entities u ON u.id = m.user_id";

    /// <summary>
    /// Refuses to take the admin role from the team's only admin. The team's admin rows are locked first, so two admins
    /// demoting each other at once on PostgreSQL cannot both pass.
    /// </summary>
    private async Task EnsureNotLastAdminAsync(DbSession session, long teamId, long userId, string what, CancellationToken cancellationToken)
    {
        var admins = await session.ListAsync($"SELECT m.user_id FROM memberships m WHERE m.team_id = @t AND m.role = @admin{database.LockRows("m")}",
            r => r.Long(0), cancellationToken, ("@t", teamId), ("@admin", EntityRoles.Name(EntityRole.Admin)));
        if (admins is [var only] && only == userId)
        {
            throw new MembershipConflictException($"cannot {what} the team's last admin: make another member an admin first");
        }
    }

    private static Sql MemberUpsert(long teamId, long userId, EntityRole role, DateTimeOffset at) => new("""
        INSERT INTO memberships (team_id, user_id, role, created_at) VALUES (@t, @u, @role, @at)
        ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role
        """, ("@t", teamId), ("@u", userId), ("@role", EntityRoles.Name(role)), ("@at", at));

    private static MemberRecord MemberRow(Row r) => new(r.Long(0), r.String(1), EntityRoles.Parse(r.String(2))!.Value, r.Time(3));
}
