using System.Globalization;
using System.Text.Json;
using Liftoff.Contracts;

namespace Liftoff.Core.Launch;

/// <summary>A queue's template variables: declared with a type and bounds or choices, filled by each launch item.</summary>
public static class TemplateVariables
{
    public const string Integer = "integer";
    public const string Number = "number";
    public const string String = "string";

    /// <summary>Parses the CLI form <c>name=integer:1..8</c>, <c>name=number:0.5..</c>, <c>name=string:a|b|c</c>, <c>name=string</c>.</summary>
    public static TemplateVariable Parse(string text)
    {
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new FormatException($"'{text}' is not name=type[:bounds], e.g. gpus=integer:1..8 or size=string:small|large");
        }

        var name = text[..eq];
        var rest = text[(eq + 1)..];
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        var type = colon < 0 ? rest : rest[..colon];
        var bounds = colon < 0 ? null : rest[(colon + 1)..];
        switch (type)
        {
            case Integer or Number:
                if (bounds is null)
                {
                    return new TemplateVariable(name, type);
                }

                var range = bounds.Split("..");
                if (range.Length != 2)
                {
                    throw new FormatException($"'{bounds}' is not a range MIN..MAX (either side may be empty)");
                }

                return new TemplateVariable(name, type, ParseBound(range[0]), ParseBound(range[1]));
            case String:
                return new TemplateVariable(name, type, Choices: bounds?.Split('|'));
            default:
                throw new FormatException($"unknown type '{type}' for {name}: integer, number or string");
        }
    }

    /// <summary>Problems of a queue's declarations.</summary>
    public static IReadOnlyList<FieldError> ValidateDeclarations(IReadOnlyList<TemplateVariable> variables, string field)
    {
        var errors = new List<FieldError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < variables.Count; i++)
        {
            var v = variables[i];
            var path = $"{field}[{i}]";
            if (!Names.IsValid(v.Name) || v.Name.Contains('.', StringComparison.Ordinal) || v.Name.Contains('-', StringComparison.Ordinal))
            {
                errors.Add(new FieldError($"{path}.name", "a template variable name is letters, digits and '_'"));
            }
            else if (!seen.Add(v.Name))
            {
                errors.Add(new FieldError($"{path}.name", $"{v.Name} is declared twice"));
            }

            if (v.Type is not (Integer or Number or String))
            {
                errors.Add(new FieldError($"{path}.type", "type is integer, number or string"));
            }
            else if (v.Type == String && (v.Min is not null || v.Max is not null))
            {
                errors.Add(new FieldError($"{path}.type", "a string variable takes choices, not bounds"));
            }
            else if (v.Type != String && v.Choices is not null)
            {
                errors.Add(new FieldError($"{path}.choices", "a numeric variable takes bounds (min, max), not choices"));
            }
            else if (v.Min > v.Max)
            {
                errors.Add(new FieldError($"{path}.min", $"min {v.Min} is above max {v.Max}"));
            }
            else if (v.Choices is { Count: 0 })
            {
                errors.Add(new FieldError($"{path}.choices", "choices, when given, list at least one value"));
            }
        }

        return errors;
    }

    /// <summary>Checks an item's values against the declarations; returns the values as the strings substituted into configs.</summary>
    public static IReadOnlyDictionary<string, string> Resolve(IReadOnlyList<TemplateVariable> variables, IReadOnlyDictionary<string, JsonElement>? values, string field, List<FieldError> errors)
    {
        var resolved = new Dictionary<string, string>(StringComparer.Ordinal);
        values ??= new Dictionary<string, JsonElement>();
        foreach (var name in values.Keys.Where(k => variables.All(v => v.Name != k)))
        {
            errors.Add(new FieldError($"{field}.{name}", $"the queue has no template variable {name}; it has: {(variables.Count == 0 ? "none" : string.Join(", ", variables.Select(v => v.Name)))}"));
        }

        foreach (var v in variables)
        {
            var path = $"{field}.{v.Name}";
            if (!values.TryGetValue(v.Name, out var value))
            {
                errors.Add(new FieldError(path, $"the queue requires {v.Name} ({Describe(v)})"));
                continue;
            }

            if (v.Type == String)
            {
                if (value.ValueKind != JsonValueKind.String)
                {
                    errors.Add(new FieldError(path, $"{v.Name} must be a string ({Describe(v)})"));
                }
                else if (v.Choices is { } choices && !choices.Contains(value.GetString()!))
                {
                    errors.Add(new FieldError(path, $"'{value.GetString()}' is not one of {string.Join(", ", choices)}"));
                }
                else
                {
                    resolved[v.Name] = value.GetString()!;
                }

                continue;
            }

            var number = value.ValueKind switch
            {
                JsonValueKind.Number when value.TryGetDouble(out var d) => d,
                JsonValueKind.String when double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                _ => (double?)null,
            };
            if (number is not { } n || !double.IsFinite(n) || (v.Type == Integer && n != Math.Floor(n)))
            {
                errors.Add(new FieldError(path, $"{v.Name} must be {(v.Type == Integer ? "an integer" : "a number")} ({Describe(v)})"));
            }
            else if (n < v.Min || n > v.Max)
            {
                errors.Add(new FieldError(path, $"{n.ToString(CultureInfo.InvariantCulture)} is out of bounds for {v.Name} ({Describe(v)})"));
            }
            else
            {
                resolved[v.Name] = n.ToString(CultureInfo.InvariantCulture);
            }
        }

        return resolved;
    }

    public static string Describe(TemplateVariable v) => v.Type switch
    {
        String => v.Choices is { } c ? $"one of {string.Join(", ", c)}" : "a string",
        _ => $"{v.Type}{(v.Min is null && v.Max is null ? "" : $" in {v.Min?.ToString(CultureInfo.InvariantCulture)}..{v.Max?.ToString(CultureInfo.InvariantCulture)}")}",
    };

    private static double? ParseBound(string text) =>
        text.Length == 0 ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value
        : throw new FormatException($"'{text}' is not a number");
}
