using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Cli;

public sealed class ArtifactCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task PutThenGet_Directory_RoundTripsAndSecondPutSendsNoFileData()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        work.File("data/train.csv", "a,b\n1,2\n");
        work.File("data/nested/deep/labels.txt", "cat\ndog\n");
        work.File("data/empty.bin", "");

        var put = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "put", "data", "--name", "mnist", "--type", "dataset", "--alias", "v-first", "--project", "p", "--json");
        Assert.True(put.ExitCode == 0, put.ToString());
        var version = JsonDocument.Parse(put.Stdout).RootElement;
        Assert.Equal("v0", version.GetProperty("version").GetString());
        var blobsAfterFirst = BlobCount();

        var again = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "put", "data", "--name", "mnist", "--type", "dataset", "--project", "p");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("Unchanged", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("Sent 0 files (0 bytes)", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("Sent 3 files", put.Stderr, StringComparison.Ordinal);
        Assert.Equal(blobsAfterFirst, BlobCount());

        var get = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "get", "mnist:v-first", "-o", "out", "--project", "p");
        Assert.True(get.ExitCode == 0, get.ToString());
        foreach (var file in new[] { "train.csv", "nested/deep/labels.txt", "empty.bin" })
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(work.Path, "data", file)), await File.ReadAllBytesAsync(Path.Combine(work.Path, "out", file)));
        }

        var list = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "ls", "--json");
        var artifact = Assert.Single(JsonDocument.Parse(list.Stdout).RootElement.GetProperty("artifacts").EnumerateArray());
        Assert.Equal("mnist", artifact.GetProperty("name").GetString());
        Assert.Equal("v0", artifact.GetProperty("latest").GetString());
    }

    [Fact]
    public async Task Put_SymlinkPointingOutside_IsRefusedAndNothingIsStored()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var secret = work.File("secret.txt", "outside");
        work.File("data/ok.txt", "inside");
        File.CreateSymbolicLink(Path.Combine(work.Path, "data", "leak.txt"), secret);

        var put = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "put", "data", "--name", "leaky", "--type", "dataset");

        Assert.NotEqual(0, put.ExitCode);
        Assert.Contains("leak.txt", put.Stderr, StringComparison.Ordinal);
        Assert.Contains("outside", put.Stderr, StringComparison.Ordinal);
        var list = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "ls", "--json");
        Assert.Equal(0, JsonDocument.Parse(list.Stdout).RootElement.GetProperty("artifacts").GetArrayLength());
    }

    [Fact]
    public async Task Put_SymlinkToAFileInside_UploadsItsContent()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        work.File("data/real.txt", "shared content");
        File.CreateSymbolicLink(Path.Combine(work.Path, "data", "alias.txt"), "real.txt");

        var put = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "put", "data", "--name", "linked", "--type", "dataset", "--json");

        Assert.True(put.ExitCode == 0, put.ToString());
        var get = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "get", "linked", "-o", "out");
        Assert.True(get.ExitCode == 0, get.ToString());
        Assert.Equal("shared content", await File.ReadAllTextAsync(Path.Combine(work.Path, "out", "alias.txt")));
        Assert.False(new FileInfo(Path.Combine(work.Path, "out", "alias.txt")).LinkTarget is not null);
    }

    [Fact]
    public async Task Get_UnknownVersion_FailsWithNotFound()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var get = await LiftoffCli.RunAsync(server, key, work.Path, "artifact", "get", "nothing:v3");
        Assert.Equal(4, get.ExitCode);
        Assert.Contains("nothing:v3", get.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(work.Path, "artifacts")));
    }

    private int BlobCount() => Directory.GetFiles(Path.Combine(server.DataDirectory, "blobs", "sha256"), "*", SearchOption.AllDirectories).Length;
}
