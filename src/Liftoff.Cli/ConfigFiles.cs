using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Client;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Liftoff.Cli;

/// <summary>Config files and <c>key=value</c> options, read into JSON the way a person writing them expects.</summary>
internal static class ConfigFiles
{
    /// <summary>A JSON or YAML file holding one object (YAML scalars typed by the core schema: 8 is a number, "8" a string).</summary>
    public static JsonObject ReadObject(string path, string option)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LiftoffException($"{option} {path}: {ex.Message}");
        }

        JsonNode? node;
        try
        {
            node = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? JsonNode.Parse(text) : FromYaml(text);
        }
        catch (Exception ex) when (ex is JsonException or YamlException)
        {
            throw new LiftoffException($"{option} {path} is not valid {(path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "JSON" : "YAML")}: {ex.Message}");
        }

        return node as JsonObject ?? throw new LiftoffException($"{option} {path} must hold an object (key: value pairs)");
    }

    /// <summary><c>key=value</c> pairs; a value that parses as JSON is taken as JSON (0.5, true, [1,2]), else as a string.</summary>
    public static JsonObject ReadPairs(IEnumerable<string> pairs, string option)
    {
        var result = new JsonObject();
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new LiftoffException($"{option} '{pair}' is not key=value");
            }

            var value = pair[(eq + 1)..];
            JsonNode? parsed;
            try
            {
                parsed = JsonNode.Parse(value);
            }
            catch (JsonException)
            {
                parsed = JsonValue.Create(value);
            }

            result[pair[..eq]] = parsed;
        }

        return result;
    }

    private static JsonNode? FromYaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? new JsonObject() : Convert(stream.Documents[0].RootNode);
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, Convert(c.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(Convert)]),
        YamlScalarNode { Style: ScalarStyle.Plain } scalar => Plain(scalar.Value ?? ""),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new LiftoffException($"unsupported YAML node at {node.Start}"),
    };

    private static JsonNode? Plain(string value) => value switch
    {
        "" or "~" or "null" or "Null" or "NULL" => null,
        "true" or "True" or "TRUE" => JsonValue.Create(true),
        "false" or "False" or "FALSE" => JsonValue.Create(false),
        _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) => JsonValue.Create(integer),
        _ when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) => JsonValue.Create(number),
        _ => JsonValue.Create(value),
    };
}
