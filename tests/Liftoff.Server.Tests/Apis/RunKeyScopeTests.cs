using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>
/// The resource checks behind the matrix's "checked" rows: what a launched run's key reads, where it logs artifacts, which
/// aliases it moves; and the owner taking back 'latest' of a job.
/// </summary>
public sealed class RunKeyScopeTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task RunKey_ReadsItsLaunchsCodeAndWhatItUsed_NotOtherArtifactsOrProjects()
    {
        var (owner, a, _, files) = await SetUpAsync();
        using var _ = files;
        var data = await RunKeyWorld.UploadAsync(owner, files.Path, "p", "data", "dataset", "rows.csv", "a,b\n");
        var secret = await RunKeyWorld.UploadAsync(owner, files.Path, "p2", "secret", "dataset", "key.txt", "hunter2\n");
        using var run = server.Http(a.Key);

        await (await run.GetAsync("/api/v1/artifacts/p/code/v0")).JsonAsync();
        var refused = await (await run.GetAsync("/api/v1/artifacts/p/data/v0")).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Contains("use_artifact", refused.Detail(), StringComparison.Ordinal);
        await (await run.GetAsync($"/api/v1/blobs/{data.Files![0].Sha256}")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await run.GetAsync("/api/v1/artifacts/p2/secret/v0")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await run.PostJsonAsync($"/api/v1/runs/{a.RunId}/artifacts/used", """{"artifact":"secret:v0","project":"p2"}""")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await run.GetAsync($"/api/v1/blobs/{secret.Files![0].Sha256}")).ProblemAsync(HttpStatusCode.Forbidden);

        using var runClient = server.Client(a.Key);
        var used = await runClient.UseArtifactAsync(a.RunId, "data:v0");
        var downloaded = await runClient.DownloadArtifactAsync(used, Path.Combine(files.Path, "down"));

        Assert.Equal("a,b\n", await File.ReadAllTextAsync(Path.Combine(downloaded, "rows.csv")));
        await (await run.GetAsync("/api/v1/artifacts/p/data/v0")).JsonAsync();
        Assert.Equal(["data"], (await owner.ListRunArtifactsAsync(a.RunId)).Used.Select(v => v.Name));
    }

    [Fact]
    public async Task RunKey_LogsArtifactsIntoItsProjectAsItsRun_AndAliasesOnlyWhatItProduced()
    {
        var (owner, a, b, files) = await SetUpAsync();
        using var _ = files;
        var owners = await RunKeyWorld.UploadAsync(owner, files.Path, "p", "model", "model", "w.bin", "owner's weights\n", ["prod"]);
        using var runClient = server.Client(a.Key);
        using var run = server.Http(a.Key);
        var directory = Directory.CreateDirectory(Path.Combine(files.Path, "run-model")).FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "w.bin"), "run's weights\n");

        var logged = await runClient.UploadArtifactAsync(directory, "p", "model", new ArtifactUploadOptions("model") { Aliases = ["candidate"], RunId = a.RunId });

        Assert.Equal(a.RunId, logged.ProducedBy);
        Assert.Contains("candidate", logged.Aliases);
        await (await run.PutAsync("/api/v1/artifacts/p/model/aliases/best", Json("""{"version":"v1"}"""))).JsonAsync();
        var elsewhere = await Assert.ThrowsAsync<LiftoffException>(() => runClient.UploadArtifactAsync(directory, "p2", "model", new ArtifactUploadOptions("model")));
        Assert.Equal(HttpStatusCode.Forbidden, elsewhere.StatusCode);
        var runsFile = (await owner.GetArtifactVersionAsync("p", "model", "v1")).Files![0];
        var manifest = $$"""{"type":"model","files":[{"path":"w.bin","size":{{runsFile.Size}},"sha256":"{{runsFile.Sha256}}"}]""";
        await (await run.PostJsonAsync("/api/v1/artifacts/p/model", manifest + $$""","run_id":"{{b.RunId}}"}""")).ProblemAsync(HttpStatusCode.Forbidden);
        var ownersFile = owners.Files![0];
        await (await run.PostJsonAsync("/api/v1/artifacts/p/model", $$"""{"type":"model","files":[{"path":"w.bin","size":{{ownersFile.Size}},"sha256":"{{ownersFile.Sha256}}"}],"aliases":["mine"]}"""))
            .ProblemAsync(HttpStatusCode.Forbidden);
        await (await run.PutAsync("/api/v1/artifacts/p/model/aliases/staging", Json("""{"version":"v0"}"""))).ProblemAsync(HttpStatusCode.Forbidden);
        await (await run.PutAsync("/api/v1/artifacts/p/model/aliases/prod", Json("""{"version":"v1"}"""))).ProblemAsync(HttpStatusCode.Forbidden);
        await (await run.PutAsync("/api/v1/artifacts/p/model/aliases/latest", Json("""{"version":"v1"}"""))).ProblemAsync(HttpStatusCode.Forbidden);
        await File.WriteAllTextAsync(Path.Combine(directory, "w.bin"), "run's weights, take 2\n");
        var takeProd = await Assert.ThrowsAsync<LiftoffException>(() => runClient.UploadArtifactAsync(directory, "p", "model", new ArtifactUploadOptions("model") { Aliases = ["prod"] }));
        Assert.Equal(HttpStatusCode.Forbidden, takeProd.StatusCode);

        var versions = (await owner.ListArtifactVersionsAsync("p", "model")).Versions;
        Assert.Equal([1, 0], versions.Select(v => int.Parse(v.Version[1..], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(["latest", "best", "candidate"], versions[0].Aliases.Order(StringComparer.Ordinal).OrderBy(alias => alias != "latest"));
        Assert.Equal(["prod"], versions[1].Aliases);
    }

    [Fact]
    public async Task Owner_PointsLatestBackAtAnEarlierJobVersion_AndTheNextLaunchRunsIt()
    {
        var key = await server.NewUserKeyAsync();
        using var owner = server.Client(key);
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train", entrypoint: """["python", "good.py"]""");
        await TestJobs.CreateRepoJobAsync(http, "p", "train", entrypoint: """["python", "bad.py"]""");

        var pinned = await owner.SetArtifactAliasAsync("p", "train", "latest", "v0");

        Assert.Contains("latest", pinned.Aliases);
        Assert.Equal("v0", (await owner.DescribeJobAsync("p", "train")).Selected.Artifact.Version);
        await owner.CreateQueueAsync(new CreateQueueRequest("q", "local-process"));
        var item = await owner.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        Assert.Equal("train:v0", item.Job);
    }

    private async Task<(LiftoffClient Owner, RunKeyWorld.Launched A, RunKeyWorld.Launched B, TempDirectory Files)> SetUpAsync()
    {
        var key = await server.NewUserKeyAsync();
        var owner = server.Client(key);
        using var http = server.Http(key);
        var files = new TempDirectory();
        await RunKeyWorld.UploadAsync(owner, files.Path, "p", "code", "code", "train.py", "print('hi')\n");
        await RunKeyWorld.CreateCodeJobAsync(http, "p", "train", "code:v0");
        await TestJobs.CreateRepoJobAsync(http, "p2", "train");
        var (a, b) = await RunKeyWorld.LaunchTwoAsync(server, owner, "p", "p2");
        return (owner, a, b, files);
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
