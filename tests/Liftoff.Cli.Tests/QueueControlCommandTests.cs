using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary>liftoff queue move, pause and resume, and where launch and queue describe say an item stands (issue #17).</summary>
public sealed class QueueControlCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task LaunchMovePauseResume_FromTheCommandLine_TellEachItemsPlaceAndWhyItWaits()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        using (var http = server.Http(key))
        {
            await TestJobs.CreateRepoJobAsync(http, "mnist", "train");
        }

        await cli.RunAsync("queue", "create", "gpu", "--resource", "local-process");
        await cli.RunAsync("queue", "create", "spare", "--resource", "local-process");
        var first = await LaunchAsync(cli);
        var second = await LaunchAsync(cli);
        var third = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "gpu");

        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.Contains("3rd in line on gpu; no agent polls gpu.", third.Stderr, StringComparison.Ordinal);

        var top = await cli.RunAsync("queue", "move", second, "--top");
        var after = await cli.RunAsync("queue", "move", first, "--before", second, "--json");
        var both = await cli.RunAsync("queue", "move", first, "--top", "--bottom");
        var badPriority = await cli.RunAsync("queue", "move", first, "--priority", "urgent");
        var pause = await cli.RunAsync("queue", "pause", "gpu");
        var list = await cli.RunAsync("queue", "list");
        var describe = await cli.RunAsync("queue", "describe", "gpu");

        Assert.True(top.ExitCode == 0, top.ToString());
        Assert.Contains($"Moved item {second} (medium priority on gpu): 1st in line on gpu", top.Stderr, StringComparison.Ordinal);
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Equal(1, JsonDocument.Parse(after.Stdout).RootElement.GetProperty("place").GetProperty("position").GetInt64());
        Assert.Equal(2, both.ExitCode);
        Assert.Equal(1, badPriority.ExitCode);
        Assert.Contains("priority", badPriority.Stderr, StringComparison.Ordinal);
        Assert.True(pause.ExitCode == 0, pause.ToString());
        Assert.Contains("paused", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("paused: agents claim nothing until 'liftoff queue resume gpu'", describe.Stdout, StringComparison.Ordinal);
        Assert.Contains("queue gpu is paused; 1st in line on gpu once it resumes", describe.Stdout, StringComparison.Ordinal);
        Assert.True(describe.Stdout.IndexOf(first, StringComparison.Ordinal) < describe.Stdout.IndexOf(second, StringComparison.Ordinal), describe.Stdout);

        var resume = await cli.RunAsync("queue", "resume", "gpu");
        var moved = await cli.RunAsync("queue", "move", first, "--to-queue", "spare");
        var history = await cli.RunAsync("item", "describe", first);

        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.DoesNotContain("paused", (await cli.RunAsync("queue", "describe", "gpu")).Stdout, StringComparison.Ordinal);
        Assert.True(moved.ExitCode == 0, moved.ToString());
        Assert.Contains("1st in line on spare", moved.Stderr, StringComparison.Ordinal);
        Assert.Contains($"moved before item {second} by", history.Stdout, StringComparison.Ordinal);
        Assert.Contains("moved to queue spare by", history.Stdout, StringComparison.Ordinal);
    }

    private static async Task<string> LaunchAsync(Cli cli)
    {
        var launch = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "gpu", "--json");
        Assert.True(launch.ExitCode == 0, launch.ToString());
        return JsonDocument.Parse(launch.Stdout).RootElement.GetProperty("id").GetString()!;
    }
}
