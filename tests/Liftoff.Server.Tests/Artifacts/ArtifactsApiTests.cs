using System.Net;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Artifacts;

/// <summary>The artifact API on the default filesystem blob store.</summary>
public sealed class ArtifactsApiTests(ServerFixture server) : ArtifactsApiContract(server), IClassFixture<ServerFixture>
{
    [Fact]
    public async Task PlanUploads_FilesystemStore_SendsEveryBlobThroughTheServerAndRefusesDirectCompletion()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var content = Content("kept by the server");

        var plan = await (await http.PostJsonAsync("/api/v1/blobs/uploads", $$"""{"blobs":[{"sha256":"{{Sha(content)}}","size":{{content.Length}}}]}""")).JsonAsync();
        var complete = await http.PostJsonAsync($"/api/v1/blobs/{Sha(content)}/complete", $$"""{"size":{{content.Length}},"token":"{{new string('a', 32)}}"}""");

        var upload = Assert.Single(plan.GetProperty("uploads").EnumerateArray());
        Assert.Equal(Sha(content), upload.GetProperty("sha256").GetString());
        Assert.Equal(0, upload.GetProperty("parts").GetArrayLength());
        Assert.Contains("PUT /api/v1/blobs", (await complete.ProblemAsync(HttpStatusCode.Conflict)).Detail(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetBlob_Range_SendsThatSliceOnly()
    {
        using var http = Server.Http(await Server.NewUserKeyAsync());
        var content = Content("0123456789abcdef");
        await PutAsync(http, content);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/blobs/{Sha(content)}");
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(4, 9);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal("456789", await response.Content.ReadAsStringAsync());
    }

    protected override string[] BlobFiles() =>
        [.. Directory.GetFiles(Path.Combine(Server.DataDirectory, "blobs"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];
}
