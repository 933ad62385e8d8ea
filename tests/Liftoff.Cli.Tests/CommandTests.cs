using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class CommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Login_WithGoodKey_StoresConfigAndCommandsUseIt()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();

        var login = await cli.RunWithInputAsync(key + "\n", "login", "--url", server.BaseUrl.ToString());
        var keys = await cli.RunAsync("keys", "list", "--json");

        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cli.ConfigFile));
        Assert.True(keys.ExitCode == 0, keys.ToString());
        Assert.Equal(1, JsonDocument.Parse(keys.Stdout).RootElement.GetProperty("keys").GetArrayLength());
        Assert.DoesNotContain(key, login.Stdout + login.Stderr + keys.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_WithWrongKey_FailsWithExitCode3AndWritesNothing()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);

        var login = await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", "local-" + new string('z', 40));

        Assert.Equal(3, login.ExitCode);
        Assert.StartsWith("liftoff: the API key is not valid", login.Stderr, StringComparison.Ordinal);
        Assert.Single(login.Stderr.Trim().Split('\n'));
        Assert.False(File.Exists(cli.ConfigFile));
    }

    [Fact]
    public async Task Commands_WithUnreachableServer_FailWithExitCode5()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);

        var result = await cli.RunAsync("login", "--url", "http://127.0.0.1:9", "--key", "local-x");

        Assert.Equal(5, result.ExitCode);
        Assert.Contains("cannot reach the Liftoff server", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_WithoutAnyConfig_SayToLogIn()
    {
        using var home = new TempDirectory();
        var result = await new Cli(home.Path).RunAsync("runs", "list");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("liftoff login", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunsShow_UnknownRun_FailsWithExitCode4()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", await server.NewUserKeyAsync());

        var result = await cli.RunAsync("runs", "show", "nosuchrun");

        Assert.Equal(4, result.ExitCode);
        Assert.Equal("liftoff: run 'nosuchrun' not found", result.Stderr.Trim());
    }

    [Fact]
    public async Task RunsStopAndLogsFollow_WorkOnALiveRun()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        using var client = server.Client(key);
        var run = await client.InitRunAsync(new Contracts.InitRunRequest("p"));
        await client.AppendLogsAsync(run.Id, 0, [new Contracts.LogLine("stdout", "<b>line one</b>")]);

        using var follow = cli.Start("runs", "logs", run.Id, "--follow");
        Assert.Equal("<b>line one</b>", await follow.StandardOutput.ReadLineAsync());
        var stop = await cli.RunAsync("runs", "stop", run.Id);
        await client.FinishRunAsync(run.Id, 137);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await follow.WaitForExitAsync(timeout.Token);

        Assert.Equal(0, stop.ExitCode);
        Assert.Equal(0, follow.ExitCode);
        Assert.Equal("killed", (await client.GetRunAsync(run.Id)).State);
    }

    [Fact]
    public async Task Help_IsAvailableOnEveryCommand()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        foreach (var command in new[] { new[] { "--help" }, ["up", "--help"], ["runs", "--help"], ["runs", "logs", "--help"], ["keys", "create", "--help"] })
        {
            var result = await cli.RunAsync(command);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Help_NamesTheCommandUsersType()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);

        var root = await cli.RunAsync("--help");
        var list = await cli.RunAsync("runs", "list", "--help");

        Assert.True(root.ExitCode == 0, root.ToString());
        Assert.Contains("Usage:\n  liftoff [command] [options]", root.Stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("Usage:\n  liftoff runs list [options]", list.Stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("Liftoff.Cli", root.Stdout + list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_PrintsTheBuildsVersion()
    {
        using var home = new TempDirectory();
        var version = typeof(CommandTests).Assembly.GetName().Version!;

        var result = await new Cli(home.Path).RunAsync("--version");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches($"^{version.Major}\\.{version.Minor}\\.{version.Build}(\\+[0-9a-f]+)?$", result.Stdout.Trim());
        Assert.Empty(result.Stderr);
    }
}
