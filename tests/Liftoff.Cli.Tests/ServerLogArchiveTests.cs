using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary><c>liftoff server --log-archive-bytes</c> and <c>--log-archive-after</c>: a bad value is a usage error naming where it came from.</summary>
public sealed class ServerLogArchiveTests
{
    [Theory]
    [InlineData("--log-archive-bytes", "1MB", null, "--log-archive-bytes '1MB' is not a number of bytes")]
    [InlineData("--log-archive-bytes", "-5", null, "--log-archive-bytes '-5' is not a number of bytes")]
    [InlineData(null, null, "lots", "LIFTOFF_LOG_ARCHIVE_BYTES 'lots' is not a number of bytes")]
    [InlineData("--log-archive-after", "-1", null, "--log-archive-after must be a number of seconds")]
    public async Task Server_WithABadLogArchiveSetting_IsAUsageErrorNamingIt(string? option, string? value, string? environment, string message)
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        string[] args = option is null ? ["server", "--data-dir", home.Path] : ["server", "--data-dir", home.Path, option, value!];

        var result = await ProcessRunner.RunAsync("dotnet", [Cli.Dll, .. args], cli.Environment(("LIFTOFF_LOG_ARCHIVE_BYTES", environment)));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(home.Path, "liftoff.db")), "a refused start must not create the store");
    }
}
