using System.Text.Json;
using Liftoff.Core.Jobs;
using Xunit;

namespace Liftoff.Core.Tests.Jobs;

public sealed class JsonSchemasTests
{
    private const string Schema = """
        {"type":"object","required":["lr"],"additionalProperties":false,"properties":{
          "lr":{"type":"number","exclusiveMinimum":0,"maximum":1},
          "epochs":{"type":"integer","minimum":1},
          "optimizer":{"enum":["adam","sgd"]},
          "name":{"type":"string","pattern":"^[a-z]+$","maxLength":8},
          "layers":{"type":"array","items":{"type":"integer"},"minItems":1}}}
        """;

    [Fact]
    public void Check_ConfigThatFits_HasNoErrors() =>
        Assert.Empty(JsonSchemas.Check(Json(Schema), Json("""{"lr":0.1,"epochs":3,"optimizer":"sgd","name":"abc","layers":[64,32]}"""), ""));

    [Theory]
    [InlineData("""{"epochs":3}""", "lr", "required")]
    [InlineData("""{"lr":0}""", "lr", "above 0")]
    [InlineData("""{"lr":"fast"}""", "lr", "expected number")]
    [InlineData("""{"lr":0.1,"epochs":2.5}""", "epochs", "expected integer")]
    [InlineData("""{"lr":0.1,"optimizer":"rmsprop"}""", "optimizer", "one of")]
    [InlineData("""{"lr":0.1,"name":"ABC"}""", "name", "pattern")]
    [InlineData("""{"lr":0.1,"layers":[1,"x"]}""", "layers[1]", "expected integer")]
    [InlineData("""{"lr":0.1,"layers":[]}""", "layers", "at least 1")]
    [InlineData("""{"lr":0.1,"extra":1}""", "extra", "not a known key")]
    public void Check_ConfigThatBreaksTheSchema_NamesThePath(string config, string path, string message)
    {
        var error = Assert.Single(JsonSchemas.Check(Json(Schema), Json(config), ""));
        Assert.Equal(path, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"float"}""", "s.type")]
    [InlineData("""{"type":"object","properties":{"a":{"minimum":"1"}}}""", "s.properties.a.minimum")]
    [InlineData("""{"type":"object","required":"a"}""", "s.required")]
    [InlineData("""{"pattern":"("}""", "s.pattern")]
    [InlineData("""{"$ref":"#/defs/x"}""", "s.$ref")]
    [InlineData("""{"type":"integer","default":1.5}""", "s.default")]
    [InlineData("[]", "s")]
    public void ValidateSchema_Malformed_NamesTheKeyword(string schema, string field) =>
        Assert.Contains(field, JsonSchemas.ValidateSchema(Json(schema), "s").Select(e => e.Field));

    [Fact]
    public void ValidateSchema_AnnotationsAndUnknownKeywords_AreAccepted() =>
        Assert.Empty(JsonSchemas.ValidateSchema(Json("""{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"t","description":"d","format":"email","x-ui":1}"""), "s"));

    [Fact]
    public void Infer_FromDefaults_TypesEachKeyAndKeepsTheDefault()
    {
        var schema = JsonSchemas.Infer(Json("""{"lr":0.001,"epochs":10,"name":"run","flag":true,"layers":[1,2],"opt":{"beta":0.9},"none":null,"mixed":[1,"a"]}"""));
        var properties = schema["properties"]!;

        Assert.Equal("number", (string?)properties["lr"]!["type"]);
        Assert.Equal("integer", (string?)properties["epochs"]!["type"]);
        Assert.Equal("string", (string?)properties["name"]!["type"]);
        Assert.Equal("boolean", (string?)properties["flag"]!["type"]);
        Assert.Equal("integer", (string?)properties["layers"]!["items"]!["type"]);
        Assert.Equal(0.9, (double)properties["opt"]!["properties"]!["beta"]!["default"]!);
        Assert.Null(properties["none"]!["type"]);
        Assert.Null(properties["mixed"]!["items"]);
        var inferred = JsonSerializer.SerializeToElement(schema);
        Assert.Empty(JsonSchemas.ValidateInputSchema(inferred, "input_types"));
        Assert.Empty(JsonSchemas.Check(inferred, Json("""{"lr":0.5,"epochs":3}"""), ""));
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;
}
