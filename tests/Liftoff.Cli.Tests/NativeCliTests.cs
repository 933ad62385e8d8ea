using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary>
/// The Native AOT client as users run it (<see cref="Cli.Executable"/>): the commands that talk HTTP to a server answer
/// with no .NET runtime reachable at all, and the hosted ones (up, server, agent) are handed to the managed program in
/// place: same arguments, exit code, standard streams and process.
/// </summary>
public sealed class NativeCliTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task VersionHelpAndRunsList_AnswerWithNoDotnetReachable()
    {
        using var home = new TempDirectory();
        var cli = await LogInAsync(home);

        var version = await RunWithoutDotnetAsync(cli, home, "--version");
        var help = await RunWithoutDotnetAsync(cli, home, "--help");
        var runs = await RunWithoutDotnetAsync(cli, home, "runs", "list", "--json");
        var agents = await RunWithoutDotnetAsync(cli, home, "agent", "list");

        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Stdout);
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("liftoff [command] [options]", help.Stdout, StringComparison.Ordinal);
        foreach (var command in new[] { "up", "server", "agent", "runs", "launch", "queue", "job", "artifact", "keys", "users", "secret" })
        {
            Assert.Matches($@"(?m)^  {command}\b", help.Stdout);
        }

        Assert.True(runs.ExitCode == 0, runs.ToString());
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(runs.Stdout).RootElement.GetProperty("runs").ValueKind);
        Assert.True(agents.ExitCode == 0, agents.ToString());
    }

    [Fact]
    public async Task DryRunYamlAndErrors_WorkWithNoDotnetReachable()
    {
        using var home = new TempDirectory();
        var cli = await LogInAsync(home);
        var queueConfig = home.File("queue.yaml", "spec:\n  template:\n    spec:\n      containers:\n      - resources:\n          limits:\n            nvidia.com/gpu: \"{{gpus}}\"\n");
        var bad = home.File("bad.yaml", "spec:\n  template:\n    spec:\n      containers:\n      - imagePullPolicy: 3\n");

        var create = await RunWithoutDotnetAsync(cli, home, "queue", "create", "k8s", "--resource", "kubernetes", "--config", queueConfig, "--template-var", "gpus=integer:1..8");
        var dryRun = await RunWithoutDotnetAsync(cli, home, "launch", "--job", "train", "--project", "mnist", "--queue", "k8s", "--set-var", "gpus=2", "--dry-run");
        var refused = await RunWithoutDotnetAsync(cli, home, "launch", "--job", "train", "--project", "mnist", "--queue", "k8s", "--set-var", "gpus=2", "--resource-args", bad);
        var missing = await RunWithoutDotnetAsync(cli, home, "runs", "show", "nosuchrun");

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        Assert.Contains("kind: Job", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Contains("nvidia.com/gpu: \"2\"", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Contains("image: registry.invalid/train:1", dryRun.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u00", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("resource_args.spec.template.spec.containers[0].imagePullPolicy", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(4, missing.ExitCode);
        Assert.Equal("liftoff: run 'nosuchrun' not found", missing.Stderr.Trim());
    }

    [Fact]
    public async Task AgentHelp_IsTheManagedAgentsHelp()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);

        var native = await cli.RunAsync("agent", "--help");
        var managed = await ProcessRunner.RunAsync("dotnet", [Cli.Dll, "agent", "--help"], cli.Environment());
        var withoutDotnet = await RunWithoutDotnetAsync(cli, home, "agent", "--help");

        Assert.True(native.ExitCode == 0, native.ToString());
        Assert.Contains("--max-jobs", native.Stdout, StringComparison.Ordinal);
        Assert.Contains("--drain", native.Stdout, StringComparison.Ordinal);
        Assert.Equal(managed.Stdout, native.Stdout);
        Assert.Equal(1, withoutDotnet.ExitCode);
        Assert.Contains("no dotnet was found", withoutDotnet.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandedOffCommand_KeepsTheManagedExitCodeAndStderr()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);

        var native = await cli.RunAsync("agent", "--max-jobs", "many");
        var managed = await ProcessRunner.RunAsync("dotnet", [Cli.Dll, "agent", "--max-jobs", "many"], cli.Environment());

        Assert.NotEqual(0, native.ExitCode);
        Assert.Contains("many", native.Stderr, StringComparison.Ordinal);
        Assert.Equal((managed.ExitCode, managed.Stdout, managed.Stderr), (native.ExitCode, native.Stdout, native.Stderr));
    }

    [Fact]
    public async Task Server_RunsInTheProcessStarted_SoItsSignalsReachTheServer()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var port = LoopbackPort.Free();
        using var process = cli.Start("server", "--data-dir", Path.Combine(home.Path, "data"), "--port", port.ToString(CultureInfo.InvariantCulture));
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await Poll.UntilAsync(async () =>
            {
                try
                {
                    return (int)(await http.GetAsync("/")).StatusCode;
                }
                catch (HttpRequestException)
                {
                    return 0;
                }
            }, code => code > 0, TimeSpan.FromSeconds(90), "the handed-off server to answer");
            var commandLine = (await File.ReadAllTextAsync($"/proc/{process.Id}/cmdline")).Split('\0');

            var term = await ProcessRunner.RunAsync("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exited.Token);

            Assert.Contains(Cli.Dll, commandLine);
            Assert.Equal(0, term.ExitCode);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    private async Task<Cli> LogInAsync(TempDirectory home)
    {
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        var login = await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        Assert.True(login.ExitCode == 0, login.ToString());
        using var http = server.Http(key);
        await TestJobs.CreateImageJobAsync(http, "mnist", "train");
        return cli;
    }

    /// <summary>With PATH holding an empty folder and no DOTNET_ROOT, no .NET host can start: only native code runs.</summary>
    private static Task<ProcessResult> RunWithoutDotnetAsync(Cli cli, TempDirectory home, params string[] args) =>
        ProcessRunner.RunAsync(Cli.Executable, args, cli.Environment(("PATH", Directory.CreateDirectory(Path.Combine(home.Path, "empty-path")).FullName), ("DOTNET_ROOT", null)));

}
