using Liftoff.Server.Wandb;
using Liftoff.Server.Wandb.Graphql;
using Xunit;

namespace Liftoff.Server.Tests.Wandb;

public sealed class WandbConfigTests
{
    [Fact]
    public void Parse_PythonWrappedConfig_UnwrapsUserKeysAndKeepsWandbSectionApart()
    {
        var parts = WandbConfig.Parse("""{"lr":{"desc":null,"value":0.1},"n":{"value":{"value":1}},"_wandb":{"desc":null,"value":{"python_version":"3.12.1","t":{}}}}""");

        Assert.Equal("""{"lr":0.1,"n":{"value":1}}""", parts.UserJson);
        Assert.Equal("""{"python_version":"3.12.1","t":{}}""", parts.WandbJson);
        Assert.Equal("3.12.1", parts.PythonVersion);
    }

    [Fact]
    public void Parse_PlainConfig_IsKeptAsIs()
    {
        var parts = WandbConfig.Parse("""{"lr":0.1,"opt":{"value":1,"beta":2}}""");

        Assert.Equal("""{"lr":0.1,"opt":{"value":1,"beta":2}}""", parts.UserJson);
        Assert.Null(parts.WandbJson);
    }

    [Fact]
    public void Parse_BareNonFiniteValues_BecomeStrings()
    {
        Assert.Equal("""{"x":"NaN","y":"-Infinity"}""", WandbConfig.Parse("""{"x":{"value":NaN},"y":{"value":-Infinity}}""").UserJson);
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("{not json")]
    public void Parse_NotAnObject_IsAGraphqlError(string config)
    {
        Assert.Throws<GraphqlException>(() => WandbConfig.Parse(config));
    }

    [Fact]
    public void Wrap_IsTheInverseOfParse()
    {
        var wrapped = WandbConfig.Wrap("""{"lr":0.1,"layers":[1,2]}""", """{"t":{"1":[2]}}""");

        Assert.Equal("""{"lr":{"value":0.1},"layers":{"value":[1,2]},"_wandb":{"value":{"t":{"1":[2]}}}}""", wrapped);
        Assert.Equal("""{"lr":0.1,"layers":[1,2]}""", WandbConfig.Parse(wrapped).UserJson);
    }
}
