using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Xunit;

namespace Liftoff.Core.Tests.Artifacts;

public sealed class ManifestsTests
{
    private const string Sha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    [Theory]
    [InlineData("a.txt")]
    [InlineData("dir/sub/file.bin")]
    [InlineData("名前/データ.csv")]
    [InlineData("..hidden/x")]
    [InlineData("a..b")]
    public void Problem_SafeRelativePath_IsNull(string path) => Assert.Null(ArtifactPaths.Problem(path));

    [Theory]
    [InlineData("../x", "'..'")]
    [InlineData("a/..", "'..'")]
    [InlineData("/abs", "absolute")]
    [InlineData("c:/x", "drive letter")]
    [InlineData("a\\b", "'\\'")]
    [InlineData("a\0b", "NUL")]
    [InlineData("a\tb", "control character")]
    [InlineData("a\u007fb", "control character")]
    [InlineData("a/", "empty segment")]
    public void Problem_UnsafePath_SaysWhy(string path, string reason) =>
        Assert.Contains(reason, ArtifactPaths.Problem(path), StringComparison.Ordinal);

    [Fact]
    public void Problem_LoneSurrogate_IsRefused() =>
        Assert.Contains("lone surrogate", ArtifactPaths.Problem("a" + (char)0xD800 + "b"), StringComparison.Ordinal);

    [Fact]
    public void Problem_OverlongPathOrSegment_IsRefused()
    {
        Assert.Contains("255", ArtifactPaths.Problem(new string('x', 256)), StringComparison.Ordinal);
        Assert.Contains("1024", ArtifactPaths.Problem(string.Join('/', Enumerable.Repeat(new string('x', 200), 6))), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BadEntries_NamesEachField()
    {
        var errors = Manifests.Validate([new ManifestEntry("a", 1, Sha), new ManifestEntry("a", -1, "ABC"), new ManifestEntry("a/b", 1, Sha)]);

        Assert.Equal(["files[1].path", "files[1].size", "files[1].sha256", "files[2].path"], errors.Select(e => e.Field));
    }

    [Fact]
    public void Validate_EmptyManifest_IsRefused() =>
        Assert.Equal("files", Assert.Single(Manifests.Validate([])).Field);

    [Fact]
    public void Digest_DoesNotDependOnListingOrderButOnEveryField()
    {
        var a = new ManifestEntry("a", 1, Sha);
        var b = new ManifestEntry("b", 2, Sha);

        Assert.Equal(Manifests.Digest([a, b]), Manifests.Digest([b, a]));
        Assert.NotEqual(Manifests.Digest([a, b]), Manifests.Digest([a, b with { Size = 3 }]));
        Assert.NotEqual(Manifests.Digest([a, b]), Manifests.Digest([a, b with { Path = "c" }]));
    }

    [Theory]
    [InlineData("data", "data", "latest")]
    [InlineData("data:v12", "data", "v12")]
    [InlineData("data:prod", "data", "prod")]
    public void Parse_Reference_SplitsNameAndVersionOrAlias(string value, string name, string reference) =>
        Assert.Equal((name, reference), ArtifactRefs.Parse(value));

    [Theory]
    [InlineData("")]
    [InlineData("bad name")]
    [InlineData("data:")]
    [InlineData("data:-x")]
    [InlineData("../x:v0")]
    public void Parse_InvalidReference_IsNull(string value) => Assert.Null(ArtifactRefs.Parse(value));

    [Fact]
    public void IsAlias_VersionLikeName_IsNotAnAlias()
    {
        Assert.False(ArtifactRefs.IsAlias("v3"));
        Assert.True(ArtifactRefs.IsAlias("v3-candidate"));
    }
}
