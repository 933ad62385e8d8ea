using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Sdk;

public sealed class PythonSdkDistributionTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Pip_InstallsTheSdkFromTheServer_IntoAFreshVirtualEnvironment()
    {
        using var dir = new TempDirectory();
        var venv = Path.Combine(dir.Path, "venv");
        var created = await ProcessRunner.RunAsync(Python.Executable, ["-m", "venv", venv]);
        Assert.True(created.ExitCode == 0, created.ToString());
        using var http = server.Http();
        var page = await http.GetStringAsync("/sdk/python/");
        var wheelUrl = page.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("pip install http", StringComparison.Ordinal))["pip install ".Length..];

        var install = await ProcessRunner.RunAsync(Path.Combine(venv, "bin", "pip"), ["install", "--no-index", "--disable-pip-version-check", wheelUrl], timeout: TimeSpan.FromMinutes(3));
        Assert.True(install.ExitCode == 0, install.ToString());
        var byName = await ProcessRunner.RunAsync(Path.Combine(venv, "bin", "pip"), ["install", "--force-reinstall", "--disable-pip-version-check", "--index-url", new Uri(server.BaseUrl, "/sdk/python/simple/").ToString(), "liftoff"], timeout: TimeSpan.FromMinutes(3));
        Assert.True(byName.ExitCode == 0, byName.ToString());

        var imported = await ProcessRunner.RunAsync(Path.Combine(venv, "bin", "python"), ["-c", "import liftoff, os; print(liftoff.__version__, os.path.dirname(liftoff.__file__))"],
            new Dictionary<string, string?> { ["PYTHONPATH"] = null }, workingDirectory: dir.Path);
        Assert.True(imported.ExitCode == 0, imported.ToString());
        Assert.StartsWith("0.1.0 " + venv, imported.Stdout, StringComparison.Ordinal);
    }
}
