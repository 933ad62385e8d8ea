using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Liftoff.Core.Launch;

/// <summary>What the launch macros stand for. An unknown image URI (a code job not built yet) leaves <c>${image_uri}</c> for the builder.</summary>
public sealed record MacroValues(string Project, string Entity, string Queue, string RunId, string RunName, string? ImageUri, string Author)
{
    public string? this[string name] => name switch
    {
        "project_name" => Project,
        "entity_name" => Entity,
        "queue_name" => Queue,
        "run_id" => RunId,
        "run_name" => RunName,
        "image_uri" => ImageUri,
        "author" => Author,
        _ => null,
    };
}

/// <summary>
/// <c>${name}</c> macros and <c>{{variable}}</c> template variables in string values of a resource config. Unknown names
/// are refused at enqueue, with the path of the value that holds them.
/// </summary>
public static partial class Macros
{
    public static readonly IReadOnlyList<string> Known = ["project_name", "entity_name", "queue_name", "run_id", "run_name", "image_uri", "author"];

    /// <summary>Every unknown macro or undeclared template variable, by path.</summary>
    public static IReadOnlyList<FieldError> FindUnknown(JsonNode config, ISet<string> templateVariables, string field)
    {
        var errors = new List<FieldError>();
        Visit(config, field, (text, path) =>
        {
            foreach (Match m in MacroPattern().Matches(text))
            {
                if (!Known.Contains(m.Groups[1].Value))
                {
                    errors.Add(new FieldError(path, $"unknown macro ${{{m.Groups[1].Value}}}; known: {string.Join(", ", Known.Select(k => "${" + k + "}"))}"));
                }
            }

            foreach (Match m in TemplatePattern().Matches(text))
            {
                if (!templateVariables.Contains(m.Groups[1].Value))
                {
                    errors.Add(new FieldError(path, $"{{{{{m.Groups[1].Value}}}}} is not a template variable of this queue"));
                }
            }

            return text;
        });
        return errors;
    }

    /// <summary>Substitutes in place; call after <see cref="FindUnknown"/> found nothing.</summary>
    public static JsonNode Substitute(JsonNode config, MacroValues values, IReadOnlyDictionary<string, string> templateValues)
    {
        var copy = config.DeepClone();
        Visit(copy, "", (text, _) =>
        {
            var replaced = MacroPattern().Replace(text, m => values[m.Groups[1].Value] ?? m.Value);
            return TemplatePattern().Replace(replaced, m => templateValues.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        });
        return copy;
    }

    internal static void Visit(JsonNode? node, string path, Func<string, string, string> onString)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (value is JsonValue leaf && leaf.TryGetValue<string>(out var text))
                    {
                        obj[key] = onString(text, $"{path}.{key}");
                    }
                    else
                    {
                        Visit(value, $"{path}.{key}", onString);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue leaf && leaf.TryGetValue<string>(out var text))
                    {
                        array[i] = onString(text, $"{path}[{i}]");
                    }
                    else
                    {
                        Visit(array[i], $"{path}[{i}]", onString);
                    }
                }

                break;
        }
    }

    [GeneratedRegex(@"\$\{([A-Za-z0-9_]+)\}")]
    private static partial Regex MacroPattern();

    [GeneratedRegex(@"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")]
    private static partial Regex TemplatePattern();
}
