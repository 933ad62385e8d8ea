using Xunit;

namespace Liftoff.Core.Tests;

public sealed class NamesTests
{
    [Theory]
    [InlineData("mnist", true)]
    [InlineData("team.vision-2_a", true)]
    [InlineData("", false)]
    [InlineData(".hidden", false)]
    [InlineData("a/b", false)]
    [InlineData("../x", false)]
    [InlineData("名前", false)]
    public void IsValid_FollowsTheRule(string name, bool valid) => Assert.Equal(valid, Names.IsValid(name));
}
