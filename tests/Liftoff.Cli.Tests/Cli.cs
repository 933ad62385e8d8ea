using System.Diagnostics;
using Liftoff.Testing;

namespace Liftoff.Cli.Tests;

/// <summary>
/// The real liftoff program as users run it, a child process with its own HOME: the Native AOT client (published beside
/// this assembly by the project file), which hands up, server and agent to the managed <see cref="Dll"/>.
/// </summary>
internal sealed class Cli(string home)
{
    public static string Executable { get; } = Path.Combine(AppContext.BaseDirectory, "liftoff");

    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll");

    public string Home { get; } = home;

    public string ConfigFile => Path.Combine(Home, ".config", "liftoff", "config.json");

    public Dictionary<string, string?> Environment(params (string Name, string? Value)[] extra)
    {
        var env = new Dictionary<string, string?>
        {
            ["HOME"] = Home,
            ["XDG_CONFIG_HOME"] = null,
            ["XDG_DATA_HOME"] = null,
            ["LIFTOFF_BASE_URL"] = null,
            ["LIFTOFF_API_KEY"] = null,
            ["NO_COLOR"] = "1",
            ["COLUMNS"] = "200",
        };
        foreach (var (name, value) in extra)
        {
            env[name] = value;
        }

        return env;
    }

    public Task<ProcessResult> RunAsync(params string[] args) => ProcessRunner.RunAsync(Executable, args, Environment());

    public Task<ProcessResult> RunWithInputAsync(string stdin, params string[] args) => ProcessRunner.RunAsync(Executable, args, Environment(), stdin);

    public Process Start(params string[] args) => ProcessRunner.Start(Executable, args, Environment());
}
