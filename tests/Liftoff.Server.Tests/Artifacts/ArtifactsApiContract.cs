using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Artifacts;

/// <summary>The artifact and blob API, run against each blob store (the filesystem, an S3 bucket).</summary>
public abstract class ArtifactsApiContract(ServerFixture server)
{
    protected ServerFixture Server => server;

    [Fact]
    public async Task Upload_ManifestThenMissingBlobsThenCommit_StoresVersionAndSecondCommitIsTheSameVersion()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var a = Content("alpha");
        var b = Content("beta");
        var manifest = Manifest(("data/a.txt", a), ("b.txt", b));

        var missing = await (await http.PostJsonAsync("/api/v1/blobs/check", manifest)).JsonAsync();
        Assert.Equal([Sha(a), Sha(b)], missing.GetProperty("missing").EnumerateArray().Select(d => d.GetString()).Order());
        await PutAsync(http, a);
        await PutAsync(http, b);
        var none = await (await http.PostJsonAsync("/api/v1/blobs/check", manifest)).JsonAsync();
        var created = await (await http.PostJsonAsync("/api/v1/artifacts/p/ds", Commit("dataset", manifest))).JsonAsync(HttpStatusCode.Created);
        var again = await (await http.PostJsonAsync("/api/v1/artifacts/p/ds", Commit("dataset", manifest, "gold"))).JsonAsync();

        Assert.Equal(0, none.GetProperty("missing").GetArrayLength());
        Assert.Equal("v0", created.GetProperty("version").GetString());
        Assert.True(created.GetProperty("created").GetBoolean());
        Assert.Equal("v0", again.GetProperty("version").GetString());
        Assert.False(again.GetProperty("created").GetBoolean());
        Assert.Equal(["gold", "latest"], again.GetProperty("aliases").EnumerateArray().Select(x => x.GetString()).Order());
        var version = await (await http.GetAsync("/api/v1/artifacts/p/ds/gold")).JsonAsync();
        Assert.Equal(["b.txt", "data/a.txt"], version.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()));
        Assert.Equal(a, await http.GetByteArrayAsync($"/api/v1/blobs/{Sha(a)}"));
    }

    [Theory]
    [InlineData("../escape.txt", "'..'")]
    [InlineData("a/../../escape.txt", "'..'")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("C:/Windows/x", "drive letter")]
    [InlineData("a\\..\\b", "'\\'")]
    [InlineData("nul\0byte", "NUL")]
    [InlineData("new\nline", "control character")]
    [InlineData("esc\u001b[31m", "control character")]
    [InlineData("a//b", "empty segment")]
    [InlineData("./a", "'.'")]
    [InlineData("", "empty")]
    public async Task Upload_UnsafePath_Is400NamingTheFileAndStoresNothing(string path, string reason)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var content = Content("x" + path);
        await PutAsync(http, content);
        var manifest = Manifest(("ok.txt", content), (path, content));
        var blobsBefore = BlobFiles();

        var check = await (await http.PostJsonAsync("/api/v1/blobs/check", manifest)).ProblemAsync(HttpStatusCode.BadRequest);
        var commit = await (await http.PostJsonAsync("/api/v1/artifacts/p/unsafe", Commit("dataset", manifest))).ProblemAsync(HttpStatusCode.BadRequest);

        foreach (var problem in new[] { check, commit })
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty("files[1].path", out var message), problem.GetRawText());
            Assert.Contains(reason, message[0].GetString(), StringComparison.Ordinal);
        }

        await (await http.GetAsync("/api/v1/artifacts/p/unsafe")).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(blobsBefore, BlobFiles());
    }

    [Fact]
    public async Task Commit_DuplicatePathOrFileUnderAFile_Is400NamingTheSecondEntry()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var content = Content("dup");
        await PutAsync(http, content);

        var duplicate = await (await http.PostJsonAsync("/api/v1/artifacts/p/dup", Commit("dataset", Manifest(("a.txt", content), ("a.txt", content))))).ProblemAsync(HttpStatusCode.BadRequest);
        var nested = await (await http.PostJsonAsync("/api/v1/artifacts/p/dup", Commit("dataset", Manifest(("a", content), ("a/b", content))))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Contains("listed twice", duplicate.GetProperty("errors").GetProperty("files[1].path")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("which is a file", nested.GetProperty("errors").GetProperty("files[1].path")[0].GetString(), StringComparison.Ordinal);
        await (await http.GetAsync("/api/v1/artifacts/p/dup")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task PutBlob_ContentNotMatchingItsDigest_Is400AndWritesNothing()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var claimed = Sha(Content("what I say"));
        var blobsBefore = BlobFiles();

        using var body = new ByteArrayContent(Content("what I send"));
        var problem = await (await http.PutAsync($"/api/v1/blobs/{claimed}", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("sha256", out _), problem.GetRawText());
        Assert.Equal(blobsBefore, BlobFiles());
        var check = await (await http.PostJsonAsync("/api/v1/blobs/check", Manifest(("x", Content("what I say"))))).JsonAsync();
        Assert.Equal(1, check.GetProperty("missing").GetArrayLength());
    }

    [Theory]
    [InlineData("ABC")]
    [InlineData("..%2F..%2Fetc%2Fpasswd")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg")]
    public async Task PutBlob_NameThatIsNotADigest_Is400(string name)
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        using var body = new ByteArrayContent([1, 2, 3]);
        var problem = await (await http.PutAsync($"/api/v1/blobs/{name}", body)).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("sha256", out _), problem.GetRawText());
    }

    [Fact]
    public async Task Commit_SizeOtherThanUploadedOrBlobNeverUploaded_Is400NamingTheField()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var content = Content("0123456789");
        await PutAsync(http, content);

        var size = await (await http.PostJsonAsync("/api/v1/artifacts/p/m", $$"""{"type":"dataset","files":[{"path":"a","size":11,"sha256":"{{Sha(content)}}"}]}""")).ProblemAsync(HttpStatusCode.BadRequest);
        var absent = await (await http.PostJsonAsync("/api/v1/artifacts/p/m", Commit("dataset", Manifest(("b", Content("never sent")))))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(size.GetProperty("errors").TryGetProperty("files[0].size", out _), size.GetRawText());
        Assert.True(absent.GetProperty("errors").TryGetProperty("files[0].sha256", out _), absent.GetRawText());
        await (await http.GetAsync("/api/v1/artifacts/p/m")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Blob_UploadedByAnotherEntity_IsMissingAndUnreadableForMe()
    {
        using var owner = server.Http(await server.NewUserKeyAsync());
        using var other = server.Http(await server.NewUserKeyAsync());
        var secret = Content("someone else's weights");
        await PutAsync(owner, secret);
        await (await owner.PostJsonAsync("/api/v1/artifacts/p/w", Commit("model", Manifest(("w.bin", secret))))).JsonAsync(HttpStatusCode.Created);

        var check = await (await other.PostJsonAsync("/api/v1/blobs/check", Manifest(("w.bin", secret)))).JsonAsync();
        await (await other.GetAsync($"/api/v1/blobs/{Sha(secret)}")).ProblemAsync(HttpStatusCode.NotFound);
        await (await other.PostJsonAsync("/api/v1/artifacts/p/w", Commit("model", Manifest(("w.bin", secret))))).ProblemAsync(HttpStatusCode.BadRequest);
        await (await other.GetAsync("/api/v1/artifacts/p/w")).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal([Sha(secret)], check.GetProperty("missing").EnumerateArray().Select(d => d.GetString()));
    }

    [Fact]
    public async Task Aliases_SetMovesTheAliasAndPinsLatest_VersionLikeNamesAreRefused()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        await CommitNewAsync(http, "p", "m", "model", "one", "prod");
        await CommitNewAsync(http, "p", "m", "model", "two");

        var moved = await (await http.PutAsync("/api/v1/artifacts/p/m/aliases/prod", Json("""{"version":"v1"}"""))).JsonAsync();
        var versionLike = await (await http.PutAsync("/api/v1/artifacts/p/m/aliases/v7", Json("""{"version":"v0"}"""))).ProblemAsync(HttpStatusCode.BadRequest);
        await (await http.PutAsync("/api/v1/artifacts/p/m/aliases/prod", Json("""{"version":"v9"}"""))).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal(["latest", "prod"], moved.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        Assert.True(versionLike.GetProperty("errors").TryGetProperty("alias", out _));
        var pinned = await (await http.PutAsync("/api/v1/artifacts/p/m/aliases/latest", Json("""{"version":"v0"}"""))).JsonAsync();
        Assert.Equal(["latest"], pinned.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        var versions = await (await http.GetAsync("/api/v1/artifacts/p/m")).JsonAsync();
        Assert.Equal(["v1", "v0"], versions.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        Assert.Equal("v0", (await (await http.GetAsync("/api/v1/artifacts/p/m/latest")).JsonAsync()).GetProperty("version").GetString());
    }

    [Fact]
    public async Task Runs_RecordTheVersionsTheyUseAndProduce()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        await CommitNewAsync(http, "p", "input", "dataset", "in");
        var run = await (await http.PostJsonAsync("/api/v1/runs", """{"project":"p"}""")).JsonAsync(HttpStatusCode.Created);
        var id = run.GetProperty("id").GetString();
        var output = Content("out");
        await PutAsync(http, output);

        var used = await (await http.PostJsonAsync($"/api/v1/runs/{id}/artifacts/used", """{"artifact":"input:latest"}""")).JsonAsync();
        await (await http.PostJsonAsync("/api/v1/artifacts/p/output", $$"""{"type":"model","run_id":"{{id}}","files":[{"path":"o","size":3,"sha256":"{{Sha(output)}}"}]}""")).JsonAsync(HttpStatusCode.Created);
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/artifacts/used", """{"artifact":"nothing:v0"}""")).ProblemAsync(HttpStatusCode.NotFound);
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/artifacts/used", """{"artifact":"bad name"}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Equal(1, used.GetProperty("files").GetArrayLength());
        var artifacts = await (await http.GetAsync($"/api/v1/runs/{id}/artifacts")).JsonAsync();
        Assert.Equal(["input"], artifacts.GetProperty("used").EnumerateArray().Select(v => v.GetProperty("name").GetString()));
        Assert.Equal(["output"], artifacts.GetProperty("produced").EnumerateArray().Select(v => v.GetProperty("name").GetString()));
        Assert.Equal(id, artifacts.GetProperty("produced")[0].GetProperty("produced_by").GetString());
    }

    [Fact]
    public async Task Commit_TypeJobOrOtherTypeThanTheCollection_Is400NamingType()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        await CommitNewAsync(http, "p", "thing", "dataset", "first");
        var content = Content("second");
        await PutAsync(http, content);

        var job = await (await http.PostJsonAsync("/api/v1/artifacts/p/j", Commit("job", Manifest(("job.json", content))))).ProblemAsync(HttpStatusCode.BadRequest);
        var other = await (await http.PostJsonAsync("/api/v1/artifacts/p/thing", Commit("model", Manifest(("x", content))))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(job.GetProperty("errors").TryGetProperty("type", out _));
        Assert.True(other.GetProperty("errors").TryGetProperty("type", out _));
        Assert.Contains("dataset", other.Detail(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutBlob_WithoutContentLength_Is411()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var content = Content("chunked");
        using var body = new StreamContent(new NonSeekableStream(content));
        var response = await http.PutAsync($"/api/v1/blobs/{Sha(content)}", body);
        await response.ProblemAsync(HttpStatusCode.LengthRequired);
    }

    /// <summary>Every file the blob store keeps (the blobs, and anything staged on the way).</summary>
    protected abstract string[] BlobFiles();

    private static async Task CommitNewAsync(HttpClient http, string project, string name, string type, string text, string? alias = null)
    {
        var content = Content(text);
        await PutAsync(http, content);
        await (await http.PostJsonAsync($"/api/v1/artifacts/{project}/{name}", Commit(type, Manifest((text, content)), alias))).JsonAsync(HttpStatusCode.Created);
    }

    internal static async Task PutAsync(HttpClient http, byte[] content)
    {
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var response = await http.PutAsync($"/api/v1/blobs/{Sha(content)}", body);
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, await response.Content.ReadAsStringAsync());
    }

    internal static byte[] Content(string text) => Encoding.UTF8.GetBytes(text);

    internal static string Sha(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    internal static string Manifest(params (string Path, byte[] Content)[] files) =>
        JsonSerializer.Serialize(new { files = files.Select(f => new { path = f.Path, size = f.Content.Length, sha256 = Sha(f.Content) }) });

    internal static string Commit(string type, string manifest, string? alias = null)
    {
        var files = JsonDocument.Parse(manifest).RootElement.GetProperty("files");
        return JsonSerializer.Serialize(new { type, files, aliases = alias is null ? Array.Empty<string>() : [alias] });
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>A body whose length HttpClient cannot know, so it is sent chunked.</summary>
    private sealed class NonSeekableStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
