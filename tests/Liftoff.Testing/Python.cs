namespace Liftoff.Testing;

/// <summary>The real python3 interpreter, with the SDK importable from the checkout.</summary>
public static class Python
{
    public static string Executable { get; } = System.Environment.GetEnvironmentVariable("LIFTOFF_TEST_PYTHON") is { Length: > 0 } python ? python : "python3";

    /// <summary>Runs <paramref name="script"/> with only the given Liftoff settings (nothing inherited from the test's environment).</summary>
    public static Task<ProcessResult> RunAsync(string script, IReadOnlyDictionary<string, string?> env, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync(Executable, ["-c", script], Environment(env), timeout: timeout);

    public static Dictionary<string, string?> Environment(IReadOnlyDictionary<string, string?> env)
    {
        var all = new Dictionary<string, string?>
        {
            ["PYTHONPATH"] = Repo.PythonSdk,
            ["PYTHONUNBUFFERED"] = "1",
            ["LIFTOFF_BASE_URL"] = null,
            ["LIFTOFF_API_KEY"] = null,
            ["LIFTOFF_RUN_ID"] = null,
            ["LIFTOFF_PROJECT"] = null,
            ["LIFTOFF_CONFIG"] = null,
        };
        foreach (var (name, value) in env)
        {
            all[name] = value;
        }

        return all;
    }
}
