using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.PythonSdk.Tests;

/// <summary>The Python SDK reporting into a team (init(entity=...) or LIFTOFF_ENTITY).</summary>
public sealed class TeamTrackingTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Init_WithTheTeamAsEntity_ReportsEveryCallIntoTheTeam()
    {
        var (team, admin, member) = await TeamAsync();
        var fromArgument = await Python.RunAsync($$"""
            import liftoff
            run = liftoff.init(project="shared", entity="{{team}}")
            print("run-id", run.id)
            liftoff.log({"loss": 0.5})
            liftoff.log({"loss": 0.25})
            liftoff.finish()
            """, server.PythonEnv(member.Key.Key));
        var fromEnvironment = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="shared")
            print("run-id", run.id)
            liftoff.finish()
            """, server.PythonEnv(member.Key.Key, ("LIFTOFF_ENTITY", team)));
        Assert.True(fromArgument.ExitCode == 0, fromArgument.ToString());
        Assert.True(fromEnvironment.ExitCode == 0, fromEnvironment.ToString());
        using var teamAdmin = new LiftoffClient(new LiftoffSettings(server.BaseUrl, admin.Key.Key) { Entity = team });

        var run = await teamAdmin.GetRunAsync(RunId(fromArgument));
        var history = await teamAdmin.ReadHistoryAsync(run.Id).ToListAsync();
        var second = await teamAdmin.GetRunAsync(RunId(fromEnvironment));

        Assert.Equal((team, "finished"), (run.Entity, run.State));
        Assert.Equal(2, history.Count);
        Assert.Equal((team, "finished"), (second.Entity, second.State));
    }

    [Fact]
    public async Task Init_ByANonMember_FailsNamingTheEntity()
    {
        var (team, _, _) = await TeamAsync();
        using var admin = server.Client();
        var outsider = await admin.CreateUserAsync("u" + Guid.NewGuid().ToString("N")[..12]);

        var result = await Python.RunAsync($$"""
            import liftoff
            liftoff.init(project="shared", entity="{{team}}")
            """, server.PythonEnv(outsider.Key.Key));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"no entity '{team}' that you are a member of", result.Stderr, StringComparison.Ordinal);
    }

    private static string RunId(ProcessResult result) =>
        result.Stdout.Split('\n').Single(l => l.StartsWith("run-id ", StringComparison.Ordinal))["run-id ".Length..].Trim();

    private async Task<(string Team, CreatedUser Admin, CreatedUser Member)> TeamAsync()
    {
        using var admin = server.Client();
        var lead = await admin.CreateUserAsync("u" + Guid.NewGuid().ToString("N")[..12]);
        var member = await admin.CreateUserAsync("u" + Guid.NewGuid().ToString("N")[..12]);
        var team = "t" + Guid.NewGuid().ToString("N")[..10];
        await admin.CreateTeamAsync(team, lead.Entity);
        using var leader = new LiftoffClient(new LiftoffSettings(server.BaseUrl, lead.Key.Key));
        await leader.SetTeamMemberAsync(team, member.Entity, "member");
        return (team, lead, member);
    }
}
