using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests;

/// <summary>The SDK acting on a team: the entity setting goes with every request, and team management calls. One test sets LIFTOFF_ENTITY, so these run alone.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class TeamClientTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task RunInit_WithTheTeamAsEntity_LandsInTheTeamAndEveryLaterCallFindsIt()
    {
        var (team, admin, member) = await TeamAsync();
        string id;
        await using (var run = await Run.InitAsync(new RunOptions { Settings = Settings(member.Key.Key), Entity = team, Project = "shared", CaptureConsole = false }))
        {
            id = run.Id;
            run.Log("loss", 0.5);
            run.Log("loss", 0.25);
        }

        using var teamAdmin = new LiftoffClient(Settings(admin.Key.Key) with { Entity = team });
        var info = await teamAdmin.GetRunAsync(id);
        var history = await teamAdmin.ReadHistoryAsync(id).ToListAsync();
        using var memberAlone = new LiftoffClient(Settings(member.Key.Key));
        var own = await memberAlone.ListRunsAsync();

        Assert.Equal(team, info.Entity);
        Assert.Equal("finished", info.State);
        Assert.Equal(2, history.Count);
        Assert.DoesNotContain(own.Runs, r => r.Id == id);
    }

    [Fact]
    public async Task RunInit_ByANonMember_IsRefusedWithTheEntityNamed()
    {
        var (team, _, _) = await TeamAsync();
        var outsider = await NewUserAsync();

        var error = await Assert.ThrowsAsync<LiftoffException>(() =>
            Run.InitAsync(new RunOptions { Settings = Settings(outsider.Key.Key), Entity = team, CaptureConsole = false }));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Contains($"no entity '{team}' that you are a member of", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientEntity_FromTheEnvironment_NamesTheTeamOnQueuesAndSecrets()
    {
        var (team, admin, member) = await TeamAsync();
        using (new EnvironmentScope(("LIFTOFF_ENTITY", team)))
        {
            using var teamAdmin = new LiftoffClient(LiftoffSettings.Resolve(server.BaseUrl.ToString(), admin.Key.Key));
            await teamAdmin.CreateQueueAsync(new CreateQueueRequest("gpu", "local-process"));
            await teamAdmin.SetSecretAsync("TOKEN", "s3cret");
        }

        using var teamMember = new LiftoffClient(Settings(member.Key.Key) with { Entity = team });
        using var memberAlone = new LiftoffClient(Settings(member.Key.Key));

        Assert.Equal(team, (await teamMember.GetQueueAsync("gpu")).Entity);
        Assert.Equal(["TOKEN"], (await teamMember.ListSecretsAsync()).Secrets.Select(s => s.Name));
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<LiftoffException>(() => memberAlone.GetQueueAsync("gpu"))).StatusCode);
        var refused = await Assert.ThrowsAsync<LiftoffException>(() => teamMember.DeleteQueueAsync("gpu"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("needs the admin role", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TeamCalls_CreateAddSetRoleListDescribeRemove()
    {
        var lead = await NewUserAsync();
        var other = await NewUserAsync();
        var team = "t" + Guid.NewGuid().ToString("N")[..10];
        using var serverAdmin = server.Client();
        using var leader = new LiftoffClient(Settings(lead.Key.Key));

        var created = await serverAdmin.CreateTeamAsync(team, lead.Entity);
        var added = await leader.SetTeamMemberAsync(team, other.Entity, "viewer");
        var promoted = await leader.SetTeamMemberAsync(team, other.Entity, "member");
        var listed = await leader.ListTeamsAsync();
        var described = await leader.GetTeamAsync(team);
        await leader.RemoveTeamMemberAsync(team, other.Entity);
        var after = await leader.GetTeamAsync(team);
        using var otherClient = new LiftoffClient(Settings(other.Key.Key));
        var notAdmin = await Assert.ThrowsAsync<LiftoffException>(() => otherClient.CreateTeamAsync(team + "x", other.Entity));

        Assert.Equal([lead.Entity], created.Members.Select(m => m.User));
        Assert.Equal("viewer", added.Role);
        Assert.Equal("member", promoted.Role);
        Assert.Contains(listed.Teams, t => t.Name == team && t.Role == "admin");
        Assert.Contains(described.Members, m => m.User == other.Entity && m.Role == "member");
        Assert.Equal([lead.Entity], after.Members.Select(m => m.User));
        Assert.Equal(HttpStatusCode.Forbidden, notAdmin.StatusCode);
    }

    private LiftoffSettings Settings(string key) => new(server.BaseUrl, key);

    private async Task<CreatedUser> NewUserAsync()
    {
        using var admin = server.Client();
        return await admin.CreateUserAsync("u" + Guid.NewGuid().ToString("N")[..12]);
    }

    /// <summary>A fresh team with its admin and one member.</summary>
    private async Task<(string Team, CreatedUser Admin, CreatedUser Member)> TeamAsync()
    {
        var (lead, member) = (await NewUserAsync(), await NewUserAsync());
        var team = "t" + Guid.NewGuid().ToString("N")[..10];
        using var serverAdmin = server.Client();
        await serverAdmin.CreateTeamAsync(team, lead.Entity);
        using var leader = new LiftoffClient(Settings(lead.Key.Key));
        await leader.SetTeamMemberAsync(team, member.Entity, "member");
        return (team, lead, member);
    }
}
