using Liftoff.Testing;

namespace Liftoff.Client.Tests.Cli;

/// <summary>The real liftoff program, run as a process against a test server with only the given key.</summary>
internal static class LiftoffCli
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll");

    public static Task<ProcessResult> RunAsync(ServerFixture server, string key, string workingDirectory, params string[] args) =>
        ProcessRunner.RunAsync("dotnet", [Dll, .. args], Environment(server, key, workingDirectory), workingDirectory: workingDirectory, timeout: TimeSpan.FromMinutes(3));

    public static Dictionary<string, string?> Environment(ServerFixture server, string key, string home) => new()
    {
        ["LIFTOFF_BASE_URL"] = server.BaseUrl.ToString(),
        ["LIFTOFF_API_KEY"] = key,
        ["LIFTOFF_PROJECT"] = null,
        ["LIFTOFF_GIT_TOKEN"] = null,
        ["XDG_CONFIG_HOME"] = Path.Combine(home, ".config"),
        ["HOME"] = home,
        ["GIT_CONFIG_NOSYSTEM"] = "1",
        ["GIT_CONFIG_GLOBAL"] = "/dev/null",
        ["NO_COLOR"] = "1",
    };
}
