using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class UpCommandTests
{
    [Fact]
    public async Task Up_OnFirstStart_ConfiguresThisMachineSoScriptsAndCommandsNeedNoSettings()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var port = LoopbackPort.Free();
        using var up = cli.Start("up", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            var key = await up.StandardOutput.ReadLineAsync();
            Assert.Matches("^local-[a-z0-9]{40}$", key);
            await WaitForLineAsync(up.StandardError, "Press Ctrl+C");

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cli.ConfigFile));
            Assert.True(Directory.Exists(Path.Combine(home.Path, ".local", "share", "liftoff")));
            var script = await ProcessRunner.RunAsync(Python.Executable, ["-c", """
                import liftoff
                run = liftoff.init(project="mnist", config={"lr": 0.1})
                print("run-id", run.id)
                for s in range(1000):
                    liftoff.log({"loss": 1 / (s + 1)})
                print("hello from the script")
                liftoff.finish()
                """], Python.Environment(cli.Environment()));
            Assert.True(script.ExitCode == 0, script.ToString());
            var id = script.Stdout.Split('\n').First(l => l.StartsWith("run-id ", StringComparison.Ordinal))["run-id ".Length..].Trim();

            var list = await cli.RunAsync("runs", "list", "--project", "mnist", "--json");
            var show = await cli.RunAsync("runs", "show", id, "--json");
            var history = await cli.RunAsync("runs", "history", id, "--json");
            var logs = await cli.RunAsync("runs", "logs", id);
            var table = await cli.RunAsync("runs", "list");

            Assert.True(list.ExitCode == 0, list.ToString());
            Assert.Equal(id, JsonDocument.Parse(list.Stdout).RootElement.GetProperty("runs")[0].GetProperty("id").GetString());
            var run = JsonDocument.Parse(show.Stdout).RootElement;
            Assert.Equal("finished", run.GetProperty("state").GetString());
            Assert.Equal(0.001, run.GetProperty("summary").GetProperty("loss").GetDouble());
            Assert.Equal(1000, JsonDocument.Parse(history.Stdout).RootElement.GetProperty("rows").GetArrayLength());
            Assert.Contains("hello from the script", logs.Stdout, StringComparison.Ordinal);
            Assert.Contains(id, table.Stdout, StringComparison.Ordinal);
            Assert.Empty(list.Stderr);
        }
        finally
        {
            await StopAsync(up);
        }

        Assert.Equal(0, up.ExitCode);
    }

    [Fact]
    public async Task Up_SecondStartWithWorkingConfig_ReusesTheKeyAndPrintsNone()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var port = LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using (var first = cli.Start("up", "--port", port))
        {
            await WaitForLineAsync(first.StandardError, "Press Ctrl+C");
            await StopAsync(first);
        }

        var config = await File.ReadAllTextAsync(cli.ConfigFile);
        using var second = cli.Start("up", "--port", port);
        await WaitForLineAsync(second.StandardError, "Press Ctrl+C");
        await StopAsync(second);

        Assert.Equal(config, await File.ReadAllTextAsync(cli.ConfigFile));
        Assert.Equal("", await second.StandardOutput.ReadToEndAsync());
    }

    [Fact]
    public async Task Up_UnauthenticatedRequest_LeavesStdoutWithOnlyTheKey()
    {
        using var home = new TempDirectory();
        var port = LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var up = new Cli(home.Path).Start("up", "--port", port);
        HttpStatusCode status;
        try
        {
            Assert.Matches("^local-[a-z0-9]{40}$", await up.StandardOutput.ReadLineAsync());
            await WaitForLineAsync(up.StandardError, "Press Ctrl+C");
            using var http = new HttpClient();
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/api/v1/runs"));
            status = response.StatusCode;
        }
        finally
        {
            await StopAsync(up);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("", await up.StandardOutput.ReadToEndAsync());
        Assert.DoesNotContain("AuthenticationScheme", await up.StandardError.ReadToEndAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_WithBadPort_FailsWithOneLineReason()
    {
        using var home = new TempDirectory();
        var result = await new Cli(home.Path).RunAsync("up", "--port", "70000");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("liftoff: --port 70000 is not a TCP port (0 to 65535)", result.Stderr.Trim());
    }

    private static async Task WaitForLineAsync(StreamReader reader, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }

        throw new InvalidOperationException($"the process ended before printing '{text}'");
    }

    private static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
    }

}
