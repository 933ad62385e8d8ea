using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class SecretCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task SecretSetListDelete_FromStdinAndFile_ListsNamesNeverValues()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        Assert.Equal(0, (await cli.RunWithInputAsync(key + "\n", "login", "--url", server.BaseUrl.ToString())).ExitCode);
        var fromStdin = "stdin-" + Guid.NewGuid().ToString("N");
        var fromFile = "-----BEGIN KEY-----\nfile-" + Guid.NewGuid().ToString("N") + "\n-----END KEY-----\n";
        var file = home.File("key.pem", fromFile);

        var setStdin = await cli.RunWithInputAsync(fromStdin + "\n", "secret", "set", "HF_TOKEN");
        var setFile = await cli.RunAsync("secret", "set", "SSH_KEY", "--from-file", file);
        var table = await cli.RunAsync("secret", "list");
        var json = await cli.RunAsync("secret", "list", "--json");
        var deleted = await cli.RunAsync("secret", "delete", "HF_TOKEN");
        var missing = await cli.RunAsync("secret", "delete", "HF_TOKEN");
        var after = await cli.RunAsync("secret", "list", "--json");

        Assert.True(setStdin.ExitCode == 0, setStdin.ToString());
        Assert.True(setFile.ExitCode == 0, setFile.ToString());
        Assert.Contains("${secret:HF_TOKEN}", setStdin.Stderr, StringComparison.Ordinal);
        foreach (var output in new[] { setStdin, setFile, table, json })
        {
            Assert.DoesNotContain(fromStdin, output.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("file-", output.ToString(), StringComparison.Ordinal);
        }

        Assert.Contains("HF_TOKEN", table.Stdout, StringComparison.Ordinal);
        Assert.Equal(["HF_TOKEN", "SSH_KEY"], JsonDocument.Parse(json.Stdout).RootElement.GetProperty("secrets").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        Assert.Equal(0, deleted.ExitCode);
        Assert.Equal(4, missing.ExitCode);
        Assert.Equal(["SSH_KEY"], JsonDocument.Parse(after.Stdout).RootElement.GetProperty("secrets").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
    }
}
