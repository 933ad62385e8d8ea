using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Cli;

/// <summary>Real git repositories made by the tests, with a branch, a lightweight and an annotated tag.</summary>
internal static class GitRepos
{
    public static async Task<string> CreateAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        await GitAsync(directory, "init", "-q", "-b", "main");
        await File.WriteAllTextAsync(Path.Combine(directory, "train.py"), "print('v1')\n");
        await GitAsync(directory, "add", ".");
        await GitAsync(directory, "commit", "-q", "-m", "first");
        await GitAsync(directory, "tag", "-a", "release-1", "-m", "annotated");
        await GitAsync(directory, "checkout", "-q", "-b", "feature");
        await File.WriteAllTextAsync(Path.Combine(directory, "train.py"), "print('v2')\n");
        await GitAsync(directory, "commit", "-q", "-am", "second");
        await GitAsync(directory, "checkout", "-q", "main");
        return directory;
    }

    public static async Task<string> GitAsync(string directory, params string[] args)
    {
        var result = await ProcessRunner.RunAsync("git", ["-c", "user.name=Test", "-c", "user.email=test@liftoff.local", .. args], new Dictionary<string, string?>
        {
            ["GIT_CONFIG_NOSYSTEM"] = "1",
            ["GIT_CONFIG_GLOBAL"] = "/dev/null",
        }, workingDirectory: directory);
        Assert.True(result.ExitCode == 0, $"git {string.Join(' ', args)}: {result}");
        return result.Stdout.Trim();
    }
}
