using System.Text.Json;
using Liftoff.Core.Json;
using Xunit;

namespace Liftoff.Core.Tests.Json;

public sealed class NonFiniteNumbersTests
{
    [Theory]
    [InlineData("""{"a":NaN}""", """{"a":"NaN"}""")]
    [InlineData("""{"a": Infinity, "b": -Infinity}""", """{"a": "Infinity", "b": "-Infinity"}""")]
    [InlineData("""[NaN,1,-Infinity]""", """["NaN",1,"-Infinity"]""")]
    [InlineData("""{"x":{"y":[ NaN ]}}""", """{"x":{"y":[ "NaN" ]}}""")]
    public void Quote_BareTokens_BecomeStrings(string input, string expected)
    {
        var quoted = NonFiniteNumbers.Quote(input);

        Assert.Equal(expected, quoted);
        using var _ = JsonDocument.Parse(quoted);
    }

    [Theory]
    [InlineData("""{"NaN":"Infinity","s":"a \" NaN"}""")]
    [InlineData("""{"a":1.5,"b":"-Infinity is a string"}""")]
    [InlineData("""{"escaped":"\\","NaN":1}""")]
    public void Quote_TokensInsideStrings_AreLeftAlone(string input)
    {
        Assert.Same(input, NonFiniteNumbers.Quote(input));
    }

    [Fact]
    public void Quote_ValidJsonWithoutTokens_ReturnsSameInstance()
    {
        const string json = """{"loss":0.5}""";
        Assert.Same(json, NonFiniteNumbers.Quote(json));
    }
}
