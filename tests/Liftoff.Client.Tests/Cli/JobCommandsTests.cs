using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Cli;

public sealed class JobCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Theory]
    [InlineData("main", "main")]
    [InlineData("feature", "feature")]
    [InlineData("release-1", "release-1^{commit}")]
    [InlineData(null, "HEAD")]
    public async Task CreateGit_OverHttp_ResolvesTheRefToItsCommit(string? reference, string revision)
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var repo = await GitRepos.CreateAsync(Path.Combine(work.Path, "repos", "trainer"));
        await using var host = new GitHttpServer(Path.Combine(work.Path, "repos"));
        var expected = await GitRepos.GitAsync(repo, "rev-parse", revision);

        string[] args = ["job", "create", "git", host.BaseUrl + "trainer", "--subdir", "src/", "--entrypoint", "python train.py --epochs 3", "--project", "p", "--json"];
        var create = await LiftoffCli.RunAsync(server, key, work.Path, reference is null ? args : [.. args, "--ref", reference]);

        Assert.True(create.ExitCode == 0, create.ToString());
        var definition = JsonDocument.Parse(create.Stdout).RootElement.GetProperty("definition");
        Assert.Equal("repo", definition.GetProperty("source_type").GetString());
        Assert.Equal(expected, definition.GetProperty("source").GetProperty("commit").GetString());
        Assert.Equal("src", definition.GetProperty("source").GetProperty("subdir").GetString());
        Assert.Equal(["python", "train.py", "--epochs", "3"], definition.GetProperty("entrypoint").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("trainer", JsonDocument.Parse(create.Stdout).RootElement.GetProperty("artifact").GetProperty("name").GetString());
    }

    [Fact]
    public async Task CreateGit_RefThatDoesNotExist_FailsWithAClearErrorAndStoresNothing()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        await GitRepos.CreateAsync(Path.Combine(work.Path, "repos", "trainer"));
        await using var host = new GitHttpServer(Path.Combine(work.Path, "repos"));

        var create = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "git", host.BaseUrl + "trainer", "--ref", "no-such-branch", "--entrypoint", "python train.py");

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("'no-such-branch' is not a branch or tag", create.Stderr, StringComparison.Ordinal);
        var list = await LiftoffCli.RunAsync(server, key, work.Path, "job", "list", "--json");
        Assert.Equal(0, JsonDocument.Parse(list.Stdout).RootElement.GetProperty("jobs").GetArrayLength());
    }

    [Fact]
    public async Task CreateGit_FromARepositoryOnThisMachine_IsRefusedByTheServerAndStoresNothing()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var repo = await GitRepos.CreateAsync(Path.Combine(work.Path, "trainer"));

        var create = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "git", "file://" + repo, "--ref", "main", "--entrypoint", "python train.py");

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("definition.source.remote", create.Stderr, StringComparison.Ordinal);
        Assert.Contains("agent's own machine", create.Stderr, StringComparison.Ordinal);
        var list = await LiftoffCli.RunAsync(server, key, work.Path, "job", "list", "--json");
        Assert.Equal(0, JsonDocument.Parse(list.Stdout).RootElement.GetProperty("jobs").GetArrayLength());
    }

    [Fact]
    public async Task CreateGit_PrivateRepoWithTokenInUrl_ResolvesButTheTokenIsNeverStoredOrPrinted()
    {
        const string token = "tok-5ecret-42";
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var repo = await GitRepos.CreateAsync(Path.Combine(work.Path, "repos", "private.git"));
        await using var host = new GitHttpServer(Path.Combine(work.Path, "repos"), token);
        var expected = await GitRepos.GitAsync(repo, "rev-parse", "main");
        var withCredentials = host.BaseUrl.Replace("http://", $"http://alice:{token}@", StringComparison.Ordinal) + "private.git";

        var anonymous = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "git", host.BaseUrl + "private.git", "--ref", "main", "--entrypoint", "python train.py");
        var create = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "git", withCredentials, "--ref", "main", "--entrypoint", "python train.py", "--json");
        var byOption = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "git", host.BaseUrl + "private.git", "--ref", "feature", "--git-token", token, "--name", "private", "--entrypoint", "python train.py", "--json");
        var describe = await LiftoffCli.RunAsync(server, key, work.Path, "job", "describe", "private:v0", "--json");

        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.True(host.Unauthorized > 0);
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.True(byOption.ExitCode == 0, byOption.ToString());
        var source = JsonDocument.Parse(create.Stdout).RootElement.GetProperty("definition").GetProperty("source");
        Assert.Equal(expected, source.GetProperty("commit").GetString());
        Assert.Equal(host.BaseUrl + "private.git", source.GetProperty("remote").GetString());
        foreach (var output in new[] { anonymous, create, byOption, describe })
        {
            Assert.DoesNotContain(token, output.Stdout + output.Stderr, StringComparison.Ordinal);
        }

        foreach (var file in Directory.GetFiles(server.DataDirectory, "*", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.True(copy.ToArray().AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(token)) < 0, $"{file} holds the token");
        }
    }

    [Fact]
    public async Task Alias_Latest_PointsLaunchesBackAtAnEarlierVersion()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "uncategorized", "train", entrypoint: """["python", "good.py"]""");
        await TestJobs.CreateRepoJobAsync(http, "uncategorized", "train", entrypoint: """["python", "bad.py"]""");

        var alias = await LiftoffCli.RunAsync(server, key, work.Path, "job", "alias", "train:v0", "latest");
        var describe = await LiftoffCli.RunAsync(server, key, work.Path, "job", "describe", "train", "--json");
        var wrong = await LiftoffCli.RunAsync(server, key, work.Path, "job", "alias", "train:latest", "prod");

        Assert.True(alias.ExitCode == 0, alias.ToString());
        Assert.Contains("train:v0 aliases: latest", alias.Stderr, StringComparison.Ordinal);
        Assert.Equal("v0", JsonDocument.Parse(describe.Stdout).RootElement.GetProperty("selected").GetProperty("artifact").GetProperty("version").GetString());
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("NAME:vK", wrong.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCode_UploadsTheDirectoryAndDescribeShowsSourceSchemaAndRuntime()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        work.File("proj/train.py", "print('train')\n");
        work.File("proj/requirements.txt", "numpy==2.1.0\ntorch==2.5.0\n");
        var defaults = work.File("defaults.json", """{"lr":0.01,"epochs":5,"optimizer":"adam"}""");

        var create = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "code", "proj", "--entrypoint", "python train.py",
            "--requirements", "proj/requirements.txt", "--config-defaults", defaults, "--name", "mnist-train", "--alias", "stable", "--json");
        var again = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "code", "proj", "--entrypoint", "python train.py",
            "--requirements", "proj/requirements.txt", "--config-defaults", defaults, "--name", "mnist-train");
        var describe = await LiftoffCli.RunAsync(server, key, work.Path, "job", "describe", "mnist-train:stable");
        var describeJson = await LiftoffCli.RunAsync(server, key, work.Path, "job", "describe", "mnist-train", "--json");

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Contains("Unchanged", again.Stderr, StringComparison.Ordinal);
        Assert.True(describe.ExitCode == 0, describe.ToString());
        Assert.Contains("code-mnist-train:v0", describe.Stdout, StringComparison.Ordinal);
        Assert.Contains("python train.py", describe.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"optimizer\"", describe.Stdout, StringComparison.Ordinal);
        Assert.Contains("none (runs appear here", describe.Stdout, StringComparison.Ordinal);
        var definition = JsonDocument.Parse(describeJson.Stdout).RootElement.GetProperty("selected").GetProperty("definition");
        Assert.Equal("numpy==2.1.0\ntorch==2.5.0\n", definition.GetProperty("runtime").GetProperty("requirements").GetString());
        Assert.Equal("string", definition.GetProperty("input_types").GetProperty("properties").GetProperty("optimizer").GetProperty("type").GetString());
    }

    [Fact]
    public async Task CreateImage_WithDigest_RecordsImageAndDigest()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var digest = "sha256:" + new string('a', 64);

        var create = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "image", $"ghcr.io/org/train:1.2@{digest}", "--entrypoint", "python -m train", "--json");

        Assert.True(create.ExitCode == 0, create.ToString());
        var root = JsonDocument.Parse(create.Stdout).RootElement;
        Assert.Equal("ghcr.io/org/train:1.2", root.GetProperty("definition").GetProperty("source").GetProperty("image").GetString());
        Assert.Equal(digest, root.GetProperty("definition").GetProperty("source").GetProperty("digest").GetString());
        Assert.Equal("train", root.GetProperty("artifact").GetProperty("name").GetString());
    }

    [Fact]
    public async Task CreateImage_BadSchemaFile_IsRefusedNamingTheField()
    {
        var key = await server.NewUserKeyAsync();
        using var work = new TempDirectory();
        var schema = work.File("schema.json", """{"type":"object","properties":{"lr":{"type":"decimal"}}}""");

        var create = await LiftoffCli.RunAsync(server, key, work.Path, "job", "create", "image", "train:1", "--entrypoint", "run", "--schema", schema);

        Assert.Equal(1, create.ExitCode);
        Assert.Contains("definition.input_types.properties.lr.type", create.Stderr, StringComparison.Ordinal);
    }
}
