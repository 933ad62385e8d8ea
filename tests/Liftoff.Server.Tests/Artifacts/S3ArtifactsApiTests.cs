using System.Net;
using System.Text.Json;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Artifacts;

/// <summary>
/// The artifact API with blobs in a bucket of a real S3-compatible server (s3rver on 127.0.0.1, which checks every
/// signature): the contract, and direct uploads and downloads through presigned URLs.
/// </summary>
public sealed class S3ArtifactsApiTests(S3ServerFixture server) : ArtifactsApiContract(server), IClassFixture<S3ServerFixture>
{
    private static readonly HttpClient Bucket = new();

    private S3rver S3 => ((S3ServerFixture)Server).S3;

    [Fact]
    public async Task DirectUpload_PartsToPresignedUrlsThenComplete_StoresTheBlobInTheBucketForThisEntityOnly()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var content = Content("straight to the bucket");

        var upload = await PlanAsync(http, Sha(content), content.Length);
        var part = Assert.Single(upload.GetProperty("parts").EnumerateArray());
        var etag = await PutPartAsync(part, content);
        var complete = await http.PostJsonAsync($"/api/v1/blobs/{Sha(content)}/complete", CompleteBody(content.Length, upload, []));

        Assert.Equal(S3.Endpoint.Authority, new Uri(part.GetProperty("url").GetString()!).Authority);
        Assert.NotEmpty(etag);
        Assert.True(complete.StatusCode == HttpStatusCode.NoContent, await complete.Content.ReadAsStringAsync());
        var check = await (await http.PostJsonAsync("/api/v1/blobs/check", Manifest(("a", content)))).JsonAsync();
        Assert.Equal(0, check.GetProperty("missing").GetArrayLength());
        Assert.Contains(BlobFiles(), f => f.Contains(Sha(content), StringComparison.Ordinal) && f.Contains("sha256", StringComparison.Ordinal));
        Assert.DoesNotContain(BlobFiles(), f => f.Contains("uploads", StringComparison.Ordinal));
        using var other = Server.Http(await Server.NewUserKeyAsync());
        await (await other.GetAsync($"/api/v1/blobs/{Sha(content)}")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task GetBlob_S3Store_RedirectsToAPresignedBucketUrlThatServesTheBytes()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var content = Content("read from the bucket");
        await PutAsync(http, content);
        using var noRedirects = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = Server.BaseUrl };
        noRedirects.DefaultRequestHeaders.Authorization = http.DefaultRequestHeaders.Authorization;

        using var response = await noRedirects.GetAsync($"/api/v1/blobs/{Sha(content)}");

        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.Equal(S3.Endpoint.Authority, location.Authority);
        // A SigV4 query-string URL (AWS "Authenticating Requests: Using Query Parameters"): s3rver accepts any v4
        // signature from a known key, so the shape is checked here; a real S3 checks the signature itself.
        Assert.Matches("X-Amz-Algorithm=AWS4-HMAC-SHA256", location.Query);
        Assert.Matches(@"X-Amz-Credential=S3RVER%2F\d{8}%2Fus-east-1%2Fs3%2Faws4_request", location.Query);
        Assert.Matches("X-Amz-Expires=3600(&|$)", location.Query);
        Assert.Matches("X-Amz-Signature=[0-9a-f]{64}", location.Query);
        Assert.Equal(content, await Bucket.GetByteArrayAsync(location));
    }

    [Fact]
    public async Task DirectUpload_LargeBlob_IsMultipartAndCompletesFromItsParts()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var content = new byte[(70 << 20) + 3];
        new Random(7).NextBytes(content);

        var upload = await PlanAsync(http, Sha(content), content.Length);
        var parts = upload.GetProperty("parts").EnumerateArray().ToList();
        var tags = new List<object>();
        foreach (var part in parts)
        {
            var slice = content.AsMemory((int)part.GetProperty("offset").GetInt64(), (int)part.GetProperty("size").GetInt64()).ToArray();
            tags.Add(new { number = part.GetProperty("number").GetInt32(), etag = await PutPartAsync(part, slice) });
        }

        var complete = await http.PostJsonAsync($"/api/v1/blobs/{Sha(content)}/complete", CompleteBody(content.Length, upload, tags));

        Assert.Equal(2, parts.Count);
        Assert.NotNull(upload.GetProperty("upload_id").GetString());
        Assert.True(complete.StatusCode == HttpStatusCode.NoContent, await complete.Content.ReadAsStringAsync());
        Assert.Equal(content, await http.GetByteArrayAsync($"/api/v1/blobs/{Sha(content)}"));
    }

    [Fact]
    public async Task PutBlob_ThroughTheServerLargerThanAPart_IsSentInPartsOnlyWhenItsDigestMatches()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var content = new byte[(40 << 20) + 1];
        new Random(9).NextBytes(content);
        var blobsBefore = BlobFiles();

        using var wrong = new ByteArrayContent(content);
        var problem = await (await http.PutAsync($"/api/v1/blobs/{Sha(Content("something else"))}", wrong)).ProblemAsync(HttpStatusCode.BadRequest);
        var blobsAfterMismatch = BlobFiles();
        await PutAsync(http, content);

        Assert.True(problem.GetProperty("errors").TryGetProperty("sha256", out _), problem.GetRawText());
        Assert.Equal(blobsBefore, blobsAfterMismatch);
        Assert.Equal(content, await http.GetByteArrayAsync($"/api/v1/blobs/{Sha(content)}"));
    }

    [Fact]
    public async Task DirectUpload_ContentNotMatchingItsDigest_Is400AndKeepsNothing()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var claimed = Content("what I say");
        var sent = Content("what I send");
        var blobsBefore = BlobFiles();

        var upload = await PlanAsync(http, Sha(claimed), claimed.Length);
        await PutPartAsync(upload.GetProperty("parts")[0], sent);
        var sizeProblem = await (await http.PostJsonAsync($"/api/v1/blobs/{Sha(claimed)}/complete", CompleteBody(claimed.Length, upload, []))).ProblemAsync(HttpStatusCode.BadRequest);
        upload = await PlanAsync(http, Sha(claimed), claimed.Length);
        await PutPartAsync(upload.GetProperty("parts")[0], Content("what I sat"));
        var hashProblem = await (await http.PostJsonAsync($"/api/v1/blobs/{Sha(claimed)}/complete", CompleteBody(claimed.Length, upload, []))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(sizeProblem.GetProperty("errors").TryGetProperty("size", out _), sizeProblem.GetRawText());
        Assert.True(hashProblem.GetProperty("errors").TryGetProperty("sha256", out _), hashProblem.GetRawText());
        Assert.Equal(blobsBefore, BlobFiles());
        var check = await (await http.PostJsonAsync("/api/v1/blobs/check", Manifest(("x", claimed)))).JsonAsync();
        Assert.Equal(1, check.GetProperty("missing").GetArrayLength());
    }

    [Fact]
    public async Task Complete_TokenNeverUploadedOrMalformed_Is400NamingTheToken()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var content = Content("never sent");
        var upload = await PlanAsync(http, Sha(content), content.Length);

        var absent = await (await http.PostJsonAsync($"/api/v1/blobs/{Sha(content)}/complete", CompleteBody(content.Length, upload, []))).ProblemAsync(HttpStatusCode.BadRequest);
        var malformed = await (await http.PostJsonAsync($"/api/v1/blobs/{Sha(content)}/complete", $$"""{"size":{{content.Length}},"token":"../../sha256/x"}""")).ProblemAsync(HttpStatusCode.BadRequest);
        var badParts = await (await http.PostJsonAsync($"/api/v1/blobs/{Sha(content)}/complete", $$"""{"size":1,"token":"{{new string('b', 32)}}","upload_id":"x","parts":[{"number":2,"etag":"e"}]}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(absent.GetProperty("errors").TryGetProperty("token", out _), absent.GetRawText());
        Assert.True(malformed.GetProperty("errors").TryGetProperty("token", out _), malformed.GetRawText());
        Assert.True(badParts.GetProperty("errors").TryGetProperty("parts", out _), badParts.GetRawText());
    }

    [Fact]
    public async Task PlanUploads_BadDigestOrSize_Is400NamingTheEntry()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());

        var problem = await (await http.PostJsonAsync("/api/v1/blobs/uploads", """{"blobs":[{"sha256":"ABC","size":-1}]}""")).ProblemAsync(HttpStatusCode.BadRequest);
        var empty = await (await http.PostJsonAsync("/api/v1/blobs/uploads", """{"blobs":[]}""")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("blobs[0].sha256", out _), problem.GetRawText());
        Assert.True(problem.GetProperty("errors").TryGetProperty("blobs[0].size", out _), problem.GetRawText());
        Assert.True(empty.GetProperty("errors").TryGetProperty("blobs", out _), empty.GetRawText());
    }

    /// <summary>
    /// The bucket's objects. s3rver keeps unfinished multipart uploads in ._S3rver_uploads and does not implement
    /// AbortMultipartUpload, so the parts of an aborted upload stay there; they are not objects, and are left out.
    /// </summary>
    protected override string[] BlobFiles() =>
        Directory.Exists(S3.BucketDirectory)
            ? [.. Directory.GetFiles(S3.BucketDirectory, "*", SearchOption.AllDirectories).Where(f => !f.Contains("._S3rver_uploads", StringComparison.Ordinal)).Order(StringComparer.Ordinal)]
            : [];

    private static async Task<JsonElement> PlanAsync(HttpClient http, string sha256, long size)
    {
        var plan = await (await http.PostJsonAsync("/api/v1/blobs/uploads", $$"""{"blobs":[{"sha256":"{{sha256}}","size":{{size}}}]}""")).JsonAsync();
        return Assert.Single(plan.GetProperty("uploads").EnumerateArray());
    }

    /// <summary>PUTs a part to its presigned URL with nothing but the URL: no Liftoff key, no S3 keys.</summary>
    private static async Task<string> PutPartAsync(JsonElement part, byte[] content)
    {
        using var response = await Bucket.PutAsync(part.GetProperty("url").GetString(), new ByteArrayContent(content));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return response.Headers.ETag!.Tag;
    }

    private static string CompleteBody(long size, JsonElement upload, IReadOnlyList<object> parts) => JsonSerializer.Serialize(new
    {
        size,
        token = upload.GetProperty("token").GetString(),
        upload_id = upload.GetProperty("upload_id").ValueKind == JsonValueKind.Null ? null : upload.GetProperty("upload_id").GetString(),
        parts = parts.Count == 0 ? null : parts,
    });
}
