using System.Text.Json;
using Liftoff.Core.Json;
using Xunit;

namespace Liftoff.Core.Tests.Json;

public sealed class JsonObjectsTests
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    [Fact]
    public void Merge_SetsTopLevelKeysAndKeepsOthers()
    {
        Assert.Equal("""{"a":1,"b":{"y":2},"c":3}""", JsonObjects.Merge("""{"a":1,"b":{"x":1}}""", Json("""{"b":{"y":2},"c":3}""")));
    }

    [Fact]
    public void Merge_OfNonObject_Throws() => Assert.Throws<ArgumentException>(() => JsonObjects.Merge("{}", Json("[1]")));

    [Fact]
    public void WithLastValues_TakesEachKeysLastValue()
    {
        var rows = new[] { Json("""{"loss":3,"acc":0.1}"""), Json("""{"loss":2}"""), Json("""{"lr":0.01,"loss":1}""") };
        Assert.Equal("""{"old":true,"loss":1,"acc":0.1,"lr":0.01}""", JsonObjects.WithLastValues("""{"old":true}""", rows));
    }

    [Fact]
    public void WithLastValues_OfNoRows_ReturnsSameText()
    {
        const string summary = """{"a":1}""";
        Assert.Same(summary, JsonObjects.WithLastValues(summary, []));
    }
}
