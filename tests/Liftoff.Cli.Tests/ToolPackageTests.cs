using System.Net.Sockets;
using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary>
/// The .NET tool package as users get it: `dotnet pack src/Liftoff.Cli`, installed with `dotnet tool install
/// --tool-path` from that local folder (nothing else as a source, a package cache of its own). On linux-x64 the
/// installed command is the Native AOT client, which hands `server` to the managed program packed beside it.
/// </summary>
public sealed class ToolPackageTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task ThePackedTool_InstalledFromTheLocalFolder_IsTheNativeClient_AndRunsTheServer()
    {
        using var work = new TempDirectory();
        var packages = Path.Combine(work.Path, "packages");
        var pack = await ProcessRunner.RunAsync("dotnet", ["pack", Path.Combine(Repo.Root, "src", "Liftoff.Cli"), "-c", "Release", "-o", packages, "-nologo"],
            timeout: TimeSpan.FromMinutes(40));
        Assert.True(pack.ExitCode == 0, pack.ToString());
        Assert.Equal(["Liftoff.Cli.0.1.0.nupkg", "Liftoff.Cli.any.0.1.0.nupkg", "Liftoff.Cli.linux-x64.0.1.0.nupkg"],
            Directory.EnumerateFiles(packages).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var config = work.File("nuget.config", $"<configuration><packageSources><clear /><add key=\"local\" value=\"{packages}\" /></packageSources></configuration>");
        var tools = Path.Combine(work.Path, "tools");
        var install = await ProcessRunner.RunAsync("dotnet", ["tool", "install", "Liftoff.Cli", "--tool-path", tools, "--configfile", config],
            new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(work.Path, "nuget") }, timeout: TimeSpan.FromMinutes(5));
        Assert.True(install.ExitCode == 0, install.ToString());

        // The command is the packed native executable itself, beside the managed program, not a launcher through dotnet.
        var command = Path.Combine(tools, "liftoff");
        var executable = File.ResolveLinkTarget(command, returnFinalTarget: true)?.FullName ?? command;
        Assert.EndsWith(Path.Combine("liftoff.cli.linux-x64", "0.1.0", "tools", "net10.0", "linux-x64", "liftoff"), executable, StringComparison.Ordinal);
        Assert.Equal("\u007fELF"u8.ToArray(), File.ReadAllBytes(executable)[..4]);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(executable)!, "Liftoff.Cli.dll")), "the managed program is beside the client");

        using var home = new TempDirectory();
        var noDotnet = new Dictionary<string, string?>
        {
            ["HOME"] = home.Path,
            ["PATH"] = Directory.CreateDirectory(Path.Combine(home.Path, "empty-path")).FullName,
            ["DOTNET_ROOT"] = null,
            ["LIFTOFF_BASE_URL"] = server.BaseUrl.ToString(),
            ["LIFTOFF_API_KEY"] = server.AdminKey,
        };
        var version = await ProcessRunner.RunAsync(command, ["--version"], noDotnet);
        var runs = await ProcessRunner.RunAsync(command, ["runs", "list", "--json"], noDotnet);

        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.StartsWith("0.1.0", version.Stdout, StringComparison.Ordinal);
        Assert.True(runs.ExitCode == 0, runs.ToString());
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(runs.Stdout).RootElement.GetProperty("runs").ValueKind);

        // `server` is handed to the managed program in place: the same process answers on the port, now running dotnet.
        var port = FreePort();
        using var hosted = ProcessRunner.Start(command, ["server", "--port", $"{port}", "--data-dir", Path.Combine(home.Path, "data")], new Dictionary<string, string?> { ["HOME"] = home.Path });
        try
        {
            using var http = new HttpClient();
            await Poll.UntilAsync(() => IsHealthyAsync(http, port), ok => ok || hosted.HasExited, TimeSpan.FromMinutes(2), "the installed tool's server to answer /healthz");
            Assert.False(hosted.HasExited, $"the server exited with {(hosted.HasExited ? hosted.ExitCode : 0)}");
            var argv = File.ReadAllText($"/proc/{hosted.Id}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("dotnet", Path.GetFileName(argv[0]));
            Assert.Equal(Path.Combine(Path.GetDirectoryName(executable)!, "Liftoff.Cli.dll"), argv[1]);
            Assert.Equal("server", argv[2]);
        }
        finally
        {
            hosted.Kill(entireProcessTree: true);
            await hosted.WaitForExitAsync();
        }
    }

    private static async Task<bool> IsHealthyAsync(HttpClient http, int port)
    {
        try
        {
            return (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"))).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
