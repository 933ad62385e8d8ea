using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>Teams: entities of kind team, their members and roles, and who submitted an item.</summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task CreateTeam_MakesATeamEntityWithItsFirstAdmin()
    {
        var alice = await NewEntityAsync("alice");

        var team = await Identities.CreateTeamAsync("vision", alice.Id, T0, default);

        Assert.Equal(new EntityRecord(team.Id, "vision", false, T0, EntityKinds.Team), team);
        Assert.Equal(team, await Identities.FindEntityAsync("vision", default));
        Assert.Equal(EntityKinds.User, (await Identities.FindEntityAsync("alice", default))!.Kind);
        Assert.Equal([new MemberRecord(alice.Id, "alice", EntityRole.Admin, T0)], await Identities.ListMembersAsync(team.Id, default));
    }

    [Fact]
    public async Task CreateQueue_WithAllowedMembers_KeepsThemAndOthersStayUnrestricted()
    {
        var team = await Identities.CreateTeamAsync("vision", (await NewEntityAsync("alice")).Id, T0, default);

        await Queues.CreateQueueAsync(team.Id, NewQueue("gpu") with { AllowedMembers = ["alice", "bob"] }, default);
        await Queues.CreateQueueAsync(team.Id, NewQueue("cpu"), default);

        Assert.Equal(["alice", "bob"], (await Queues.GetQueueAsync(team.Id, "gpu", default))!.AllowedMembers);
        Assert.Null((await Queues.GetQueueAsync(team.Id, "cpu", default))!.AllowedMembers);
        Assert.Equal([null, ["alice", "bob"]], (await Queues.ListQueuesAsync(team.Id, default)).Select(q => q.AllowedMembers));
    }

    [Fact]
    public async Task CreateTeam_WhenANameIsTakenByAUserOrATeam_ThrowsDuplicate()
    {
        var alice = await NewEntityAsync("alice");
        await Identities.CreateTeamAsync("vision", alice.Id, T0, default);

        await Assert.ThrowsAsync<DuplicateException>(() => Identities.CreateTeamAsync("alice", alice.Id, T0, default));
        await Assert.ThrowsAsync<DuplicateException>(() => Identities.CreateTeamAsync("vision", alice.Id, T0, default));
        await Assert.ThrowsAsync<DuplicateException>(() => NewEntityAsync("vision"));
    }

    [Fact]
    public async Task SetMember_AddsThenChangesTheRoleKeepingTheJoinTime()
    {
        var alice = await NewEntityAsync("alice");
        var bob = await NewEntityAsync("bob");
        var team = await Identities.CreateTeamAsync("vision", alice.Id, T0, default);

        Assert.Equal(new MemberRecord(bob.Id, "bob", EntityRole.Viewer, T0.AddMinutes(1)), await Identities.SetMemberAsync(team.Id, bob.Id, EntityRole.Viewer, T0.AddMinutes(1), default));
        Assert.Equal(new MemberRecord(bob.Id, "bob", EntityRole.Member, T0.AddMinutes(1)), await Identities.SetMemberAsync(team.Id, bob.Id, EntityRole.Member, T0.AddMinutes(2), default));

        Assert.Equal([EntityRole.Admin, EntityRole.Member], (await Identities.ListMembersAsync(team.Id, default)).Select(m => m.Role));
    }

    [Fact]
    public async Task SetMember_DemotingTheLastAdmin_ThrowsAndChangesNothing()
    {
        var alice = await NewEntityAsync("alice");
        var bob = await NewEntityAsync("bob");
        var team = await Identities.CreateTeamAsync("vision", alice.Id, T0, default);

        await Assert.ThrowsAsync<MembershipConflictException>(() => Identities.SetMemberAsync(team.Id, alice.Id, EntityRole.Member, T0, default));
        await Assert.ThrowsAsync<MembershipConflictException>(() => Identities.RemoveMemberAsync(team.Id, alice.Id, default));
        Assert.Equal(EntityRole.Admin, Assert.Single(await Identities.ListMembersAsync(team.Id, default)).Role);

        await Identities.SetMemberAsync(team.Id, bob.Id, EntityRole.Admin, T0, default);
        await Identities.SetMemberAsync(team.Id, alice.Id, EntityRole.Viewer, T0, default);
        await Assert.ThrowsAsync<MembershipConflictException>(() => Identities.RemoveMemberAsync(team.Id, bob.Id, default));
        Assert.True(await Identities.RemoveMemberAsync(team.Id, alice.Id, default));
        Assert.False(await Identities.RemoveMemberAsync(team.Id, alice.Id, default));
        Assert.Equal(["bob"], (await Identities.ListMembersAsync(team.Id, default)).Select(m => m.User));
    }

    [Fact]
    public async Task ListTeams_GivesTheUsersTeamsWithTheirRoles_OrEveryTeam()
    {
        var alice = await NewEntityAsync("alice");
        var bob = await NewEntityAsync("bob");
        var zeta = await Identities.CreateTeamAsync("zeta", alice.Id, T0, default);
        var alpha = await Identities.CreateTeamAsync("alpha", alice.Id, T0, default);
        await Identities.SetMemberAsync(zeta.Id, bob.Id, EntityRole.Viewer, T0, default);

        Assert.Equal([new TeamRecord(zeta.Id, "zeta", T0, EntityRole.Viewer)], await Identities.ListTeamsAsync(bob.Id, all: false, default));
        Assert.Equal([new TeamRecord(alpha.Id, "alpha", T0, null), new TeamRecord(zeta.Id, "zeta", T0, EntityRole.Viewer)], await Identities.ListTeamsAsync(bob.Id, all: true, default));
        Assert.Equal(["alpha", "zeta"], (await Identities.ListTeamsAsync(alice.Id, all: false, default)).Select(t => t.Name));
    }

    [Fact]
    public async Task FindAccess_ResolvesTheUsersRoleInAnEntity()
    {
        var alice = await NewEntityAsync("alice");
        var bob = await NewEntityAsync("bob");
        var team = await Identities.CreateTeamAsync("vision", alice.Id, T0, default);
        await Identities.SetMemberAsync(team.Id, bob.Id, EntityRole.Member, T0, default);

        Assert.Equal(new EntityAccess(team.Id, "vision", EntityKinds.Team, EntityRole.Member), await Identities.FindAccessAsync("vision", bob.Id, default));
        Assert.Equal(new EntityAccess(team.Id, "vision", EntityKinds.Team, EntityRole.Admin), await Identities.FindAccessAsync("vision", alice.Id, default));
        Assert.Equal(new EntityAccess(bob.Id, "bob", EntityKinds.User, EntityRole.Admin), await Identities.FindAccessAsync("bob", bob.Id, default));
        Assert.Equal(new EntityAccess(alice.Id, "alice", EntityKinds.User, EntityRole.None), await Identities.FindAccessAsync("alice", bob.Id, default));
        Assert.Null(await Identities.FindAccessAsync("nobody", bob.Id, default));
    }

    [Fact]
    public async Task SetDefaultEntity_IsWhatTheUsersKeysAndSessionsCarry()
    {
        var (key, secret) = ApiKeys.Create("laptop", T0);
        var bob = await Identities.CreateEntityAsync("bob", admin: false, key, default);
        var team = await Identities.CreateTeamAsync("vision", bob.Id, T0, default);
        Assert.Null((await Identities.FindKeyAsync(ApiKeys.Hash(secret), default))!.DefaultEntity);

        await Identities.SetDefaultEntityAsync(bob.Id, team.Id, default);
        Assert.Equal("vision", (await Identities.FindKeyAsync(ApiKeys.Hash(secret), default))!.DefaultEntity);

        await Identities.SetDefaultEntityAsync(bob.Id, null, default);
        Assert.Null((await Identities.FindKeyAsync(ApiKeys.Hash(secret), default))!.DefaultEntity);
    }

    [Fact]
    public async Task Enqueue_RecordsTheSubmitter_OrTheOwningEntityWhenNoneIsGiven()
    {
        var alice = await NewEntityAsync("alice");
        await NewEntityAsync("bob");
        var team = await Identities.CreateTeamAsync("vision", alice.Id, T0, default);
        var queue = await Queues.CreateQueueAsync(team.Id, NewQueue("gpu"), default);

        var (byBob, _) = await Queues.EnqueueAsync(team.Id, queue.Id, NewItem("i1", "gpu") with { SubmittedBy = "bob" }, default);
        var (byNobody, _) = await Queues.EnqueueAsync(team.Id, queue.Id, NewItem("i2", "gpu"), default);

        Assert.Equal(("bob", "vision"), (byBob.SubmittedBy, byNobody.SubmittedBy));
        Assert.Equal("bob", (await Queues.GetItemAsync(team.Id, "i1", default))!.SubmittedBy);
        Assert.Equal("vision", (await Queues.GetItemAsync(team.Id, "i2", default))!.SubmittedBy);
    }
}
