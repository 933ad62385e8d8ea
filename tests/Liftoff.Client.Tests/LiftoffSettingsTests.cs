using Liftoff.Client;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests;

/// <summary>Settings read the process environment, so these run alone.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class LiftoffSettingsTests
{
    [Fact]
    public void Save_WritesConfigReadableByOwnerOnly_AndResolveReadsIt()
    {
        using var home = new TempDirectory();
        using var env = new EnvironmentScope(("XDG_CONFIG_HOME", home.Path), ("LIFTOFF_BASE_URL", null), ("LIFTOFF_API_KEY", null));

        new LiftoffSettings(new Uri("http://127.0.0.1:9999"), "local-secret").Save();
        var resolved = LiftoffSettings.Resolve();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LiftoffSettings.ConfigFilePath));
        Assert.Equal("local-secret", resolved.ApiKey);
        Assert.DoesNotContain("local-secret", resolved.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_EnvironmentWinsOverConfigFile()
    {
        using var home = new TempDirectory();
        using var env = new EnvironmentScope(("XDG_CONFIG_HOME", home.Path), ("LIFTOFF_BASE_URL", "http://127.0.0.1:1"), ("LIFTOFF_API_KEY", "from-env"));
        new LiftoffSettings(new Uri("http://127.0.0.1:9999"), "from-file").Save();

        var resolved = LiftoffSettings.Resolve();

        Assert.Equal("from-env", resolved.ApiKey);
        Assert.Equal(1, resolved.BaseUrl.Port);
    }

    [Fact]
    public void Resolve_EntityFromConfigFile_EnvironmentAndArgumentWin()
    {
        using var home = new TempDirectory();
        using var env = new EnvironmentScope(("XDG_CONFIG_HOME", home.Path), ("LIFTOFF_BASE_URL", null), ("LIFTOFF_API_KEY", null), ("LIFTOFF_ENTITY", null));
        new LiftoffSettings(new Uri("http://127.0.0.1:9999"), "k") { Entity = "from-file" }.Save();

        var fromFile = LiftoffSettings.Resolve().Entity;
        Environment.SetEnvironmentVariable("LIFTOFF_ENTITY", "from-env");
        var fromEnv = LiftoffSettings.Resolve().Entity;
        var given = LiftoffSettings.Resolve(entity: "given").Entity;

        Assert.Equal("from-file", fromFile);
        Assert.Equal("from-env", fromEnv);
        Assert.Equal("given", given);
    }

    [Fact]
    public void Resolve_WithNothingConfigured_SaysHowToFixIt()
    {
        using var home = new TempDirectory();
        using var env = new EnvironmentScope(("XDG_CONFIG_HOME", home.Path), ("LIFTOFF_BASE_URL", null), ("LIFTOFF_API_KEY", null));

        var error = Assert.Throws<LiftoffException>(() => LiftoffSettings.Resolve());

        Assert.Contains("liftoff login", error.Message, StringComparison.Ordinal);
    }
}
