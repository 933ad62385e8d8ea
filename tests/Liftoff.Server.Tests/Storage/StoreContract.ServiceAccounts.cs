using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>Service accounts of a team, agent-only keys, and editing a queue's settings.</summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task CreateServiceAccount_ItsKeysSpeakForItInItsTeamWithItsRole()
    {
        var team = await Identities.CreateTeamAsync("vision", (await NewEntityAsync("alice")).Id, T0, default);

        var account = await Identities.CreateServiceAccountAsync(team.Id, "ci", EntityRole.Viewer, T0, default);
        var (key, _) = ApiKeys.Create("deploy", T0);
        await Identities.AddKeyAsync(account.EntityId, key, default);

        Assert.Equal(new ServiceAccountRecord(account.EntityId, "vision", "ci", EntityRole.Viewer, T0), account);
        Assert.Equal(new KeyPrincipal(key.Id, account.EntityId, "ci@vision", false, null, "vision", new AccountScope(team.Id, "vision", EntityRole.Viewer)),
            await Identities.FindKeyAsync(key.Hash, default));
        Assert.Equal([account], await Identities.ListServiceAccountsAsync(team.Id, default));
        Assert.Equal(account, await Identities.FindServiceAccountAsync(team.Id, "ci", default));
        Assert.Equal(EntityKinds.ServiceAccount, (await Identities.FindEntityAsync("ci@vision", default))!.Kind);
        // The account's own entity is no place to act in, even for the server admin.
        Assert.Null(await Identities.FindAccessAsync("ci@vision", account.EntityId, default));
    }

    [Fact]
    public async Task CreateServiceAccount_ANameTheTeamHasOrHad_ThrowsDuplicate_AndAnotherTeamMayUseIt()
    {
        var alice = await NewEntityAsync("alice");
        var vision = await Identities.CreateTeamAsync("vision", alice.Id, T0, default);
        var audio = await Identities.CreateTeamAsync("audio", alice.Id, T0, default);
        await Identities.CreateServiceAccountAsync(vision.Id, "ci", EntityRole.Member, T0, default);
        await Identities.CreateServiceAccountAsync(vision.Id, "old", EntityRole.Member, T0, default);
        await Identities.DeleteServiceAccountAsync(vision.Id, "old", T0.AddMinutes(1), default);

        await Assert.ThrowsAsync<DuplicateException>(() => Identities.CreateServiceAccountAsync(vision.Id, "ci", EntityRole.Admin, T0, default));
        await Assert.ThrowsAsync<DuplicateException>(() => Identities.CreateServiceAccountAsync(vision.Id, "old", EntityRole.Member, T0, default));
        var other = await Identities.CreateServiceAccountAsync(audio.Id, "ci", EntityRole.Member, T0, default);

        Assert.Equal("ci@audio", other.EntityName);
        Assert.Equal(["ci"], (await Identities.ListServiceAccountsAsync(vision.Id, default)).Select(a => a.Name));
    }

    [Fact]
    public async Task DeleteServiceAccount_RevokesEveryKeyAndHidesIt_AndASecondDeleteFindsNothing()
    {
        var team = await Identities.CreateTeamAsync("vision", (await NewEntityAsync("alice")).Id, T0, default);
        var account = await Identities.CreateServiceAccountAsync(team.Id, "ci", EntityRole.Member, T0, default);
        var (first, _) = ApiKeys.Create("a", T0);
        var (second, _) = ApiKeys.Create("b", T0, ["gpu"]);
        await Identities.AddKeyAsync(account.EntityId, first, default);
        await Identities.AddKeyAsync(account.EntityId, second, default);

        var deleted = await Identities.DeleteServiceAccountAsync(team.Id, "ci", T0.AddHours(1), default);

        Assert.Equal(account with { DeletedAt = T0.AddHours(1) }, deleted);
        Assert.Null(await Identities.FindKeyAsync(first.Hash, default));
        Assert.Null(await Identities.FindKeyAsync(second.Hash, default));
        Assert.All(await Identities.ListKeysAsync(account.EntityId, default), k => Assert.Equal(T0.AddHours(1), k.RevokedAt));
        Assert.Null(await Identities.FindServiceAccountAsync(team.Id, "ci", default));
        Assert.Empty(await Identities.ListServiceAccountsAsync(team.Id, default));
        Assert.Null(await Identities.DeleteServiceAccountAsync(team.Id, "ci", T0.AddHours(2), default));
    }

    [Fact]
    public async Task AddKey_AgentOnly_KeepsItsQueuesInTheListingAndThePrincipal()
    {
        var alice = await NewEntityAsync("alice");
        var (agent, _) = ApiKeys.Create("agent", T0.AddMinutes(1), ["cpu", "gpu"]);

        await Identities.AddKeyAsync(alice.Id, agent, default);

        Assert.Equal("cpu,gpu", (await Identities.FindKeyAsync(agent.Hash, default))!.AgentQueues);
        var listed = await Identities.ListKeysAsync(alice.Id, default);
        Assert.Equal([null, ["cpu", "gpu"]], listed.Select(k => k.AgentQueues));
    }

    [Fact]
    public async Task UpdateQueue_ReplacesItsSettingsButNotItsIdentity_AndMissesAnUnknownQueue()
    {
        var e = await NewEntityAsync("e");
        var created = await Queues.CreateQueueAsync(e.Id, NewQueue("gpu") with { Entity = "e" }, default);
        QueueRecord? seen = null;

        var updated = await Queues.UpdateQueueAsync(e.Id, "gpu", before =>
        {
            seen = before;
            return before with
            {
                Id = 999, Name = "renamed", Resource = "docker", ConfigJson = """{"env":{"A":"1"}}""", MaxAttempts = 7, StartTimeoutSeconds = 60,
                AllowedMembers = ["bob"], RetryPolicyJson = """{"user":2}""", MaxRunSeconds = 3600,
            };
        }, default);

        Assert.Equal(created.Id, seen!.Id);
        var stored = (await Queues.GetQueueAsync(e.Id, "gpu", default))!;
        Assert.Equal(created.Id, stored.Id);
        Assert.Equal(created.Resource, stored.Resource);
        Assert.Equal(("""{"env":{"A":"1"}}""", 7, 60, """{"user":2}""", (int?)3600), (stored.ConfigJson, stored.MaxAttempts, stored.StartTimeoutSeconds, stored.RetryPolicyJson, stored.MaxRunSeconds));
        Assert.Equal(["bob"], stored.AllowedMembers);
        Assert.Equal(stored.Id, updated!.Id);
        Assert.Null(await Queues.GetQueueAsync(e.Id, "renamed", default));
        Assert.Null(await Queues.UpdateQueueAsync(e.Id, "none", q => q, default));
    }
}
