using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>The audit log: appended with the change it records, filtered and paged newest first, swept by age.</summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task AuditScope_AWriteThatChangesSomething_AppendsTheEntryInItsTransactionOnce()
    {
        var e = await NewEntityAsync("e");
        var scope = new AuditScope((outcome, status) => Entry(T0, "secret.set", "TOKEN", outcome, status) with { EntityId = e.Id });

        using (scope.Open())
        {
            await Identities.SetSecretAsync(e.Id, "TOKEN", "cipher", T0, default);
            await Identities.SetSecretAsync(e.Id, "OTHER", "cipher", T0, default);
        }

        var entry = Assert.Single(await Audit.ListAuditAsync(new AuditQuery(), default));
        Assert.Equal(scope.RecordedId, entry.Id);
        Assert.Equal(Entry(T0, "secret.set", "TOKEN", AuditOutcomes.Ok, 0) with { EntityId = e.Id }, entry.Entry);
    }

    [Fact]
    public async Task AuditScope_AWriteThatThrows_RollsItsEntryBackWithIt()
    {
        var user = await NewEntityAsync("solo");
        var team = await Identities.CreateTeamAsync("crew", user.Id, T0, default);
        var scope = new AuditScope((outcome, status) => Entry(T0, "member.set", "solo", outcome, status));

        using (scope.Open())
        {
            await Assert.ThrowsAsync<MembershipConflictException>(() => Identities.SetMemberAsync(team.Id, user.Id, EntityRole.Viewer, T0, default));
        }

        Assert.Null(scope.RecordedId);
        Assert.Empty(await Audit.ListAuditAsync(new AuditQuery(), default));
    }

    [Fact]
    public async Task AuditScope_AWriteThatChangesNothing_AppendsNothing()
    {
        var e = await NewEntityAsync("e");
        var scope = new AuditScope((outcome, status) => Entry(T0, "secret.delete", "NONE", outcome, status));

        using (scope.Open())
        {
            Assert.False(await Identities.DeleteSecretAsync(e.Id, "NONE", default));
        }

        Assert.Null(scope.RecordedId);
        Assert.Empty(await Audit.ListAuditAsync(new AuditQuery(), default));
    }

    [Fact]
    public async Task ListAudit_FiltersByEntityActorActionObjectAndTime_NewestFirstInPages()
    {
        var a = await NewEntityAsync("a");
        var b = await NewEntityAsync("b");
        for (var i = 0; i < 5; i++)
        {
            await Audit.AppendAuditAsync(Entry(T0.AddMinutes(i), "queue.create", $"q{i}", AuditOutcomes.Ok, 201) with { EntityId = a.Id, Entity = "a" }, default);
        }

        await Audit.AppendAuditAsync(Entry(T0, "item.cancel", "item_1", AuditOutcomes.Denied, 403) with { EntityId = b.Id, Entity = "b", Actor = "bob" }, default);
        await Audit.AppendAuditAsync(Entry(T0, "web.sign-in", null, AuditOutcomes.Denied, 401) with { Actor = "(unknown key)", ActorKind = AuditActorKinds.Anonymous }, default);

        var all = await Audit.ListAuditAsync(new AuditQuery(), default);
        Assert.Equal(7, all.Count);
        Assert.Equal(all.Select(r => r.Id).OrderDescending(), all.Select(r => r.Id));

        var firstPage = await Audit.ListAuditAsync(new AuditQuery(EntityId: a.Id, Limit: 2), default);
        var secondPage = await Audit.ListAuditAsync(new AuditQuery(EntityId: a.Id, Limit: 2, Before: firstPage[^1].Id), default);
        Assert.Equal(["q4", "q3", "q2", "q1"], firstPage.Concat(secondPage).Select(r => r.Entry.Object));

        Assert.Equal(["item_1"], (await Audit.ListAuditAsync(new AuditQuery(Actor: "bob"), default)).Select(r => r.Entry.Object));
        Assert.Equal(["item_1"], (await Audit.ListAuditAsync(new AuditQuery(Action: "item.cancel"), default)).Select(r => r.Entry.Object));
        Assert.Equal(["q2"], (await Audit.ListAuditAsync(new AuditQuery(Object: "q2"), default)).Select(r => r.Entry.Object));
        Assert.Equal(["q3", "q2"], (await Audit.ListAuditAsync(new AuditQuery(EntityId: a.Id, Since: T0.AddMinutes(2), Until: T0.AddMinutes(4)), default)).Select(r => r.Entry.Object));
        Assert.Empty(await Audit.ListAuditAsync(new AuditQuery(EntityId: b.Id, Action: "queue.create"), default));
    }

    [Fact]
    public async Task DeleteAuditBefore_RemovesOnlyOlderEntries_AndIdsAreNotReused()
    {
        var old = await Audit.AppendAuditAsync(Entry(T0, "key.create", "old", AuditOutcomes.Ok, 201), default);
        var kept = await Audit.AppendAuditAsync(Entry(T0.AddDays(2), "key.create", "kept", AuditOutcomes.Ok, 201), default);

        Assert.Equal(1, await Audit.DeleteAuditBeforeAsync(T0.AddDays(1), default));
        var next = await Audit.AppendAuditAsync(Entry(T0.AddDays(3), "key.create", "next", AuditOutcomes.Ok, 201), default);

        Assert.Equal(["next", "kept"], (await Audit.ListAuditAsync(new AuditQuery(), default)).Select(r => r.Entry.Object));
        Assert.True(next > kept && kept > old);
    }

    private static AuditEntry Entry(DateTimeOffset at, string action, string? obj, string outcome, int status) =>
        new(at, null, null, "alice", AuditActorKinds.User, "127.0.0.1", action, obj, outcome, status, """{"k":"v"}""");
}
