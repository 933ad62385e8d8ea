using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Liftoff.Targets;

/// <summary>The <c>env</c> member of the resource configs that take one (local-process, docker).</summary>
internal static class EnvConfig
{
    /// <summary>An <c>env</c> member: variable names to string, number or boolean values.</summary>
    public static void Check(JsonNode? value, string path, List<FieldError> errors)
    {
        if (value is not JsonObject env)
        {
            errors.Add(new FieldError(path, "env is an object of variable names to string values"));
            return;
        }

        foreach (var (name, v) in env)
        {
            if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
            {
                errors.Add(new FieldError($"{path}.{name}", "not a valid environment variable name"));
            }
            else if (v is not JsonValue leaf || leaf.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
            {
                errors.Add(new FieldError($"{path}.{name}", "environment values are strings, numbers or booleans"));
            }
            else if (Encoding.UTF8.GetByteCount(name) + 1 + Encoding.UTF8.GetByteCount(leaf.GetValueKind() == JsonValueKind.String ? leaf.GetValue<string>() : leaf.ToJsonString()) is var bytes
                && bytes > Limits.EnvVarBytes)
            {
                errors.Add(new FieldError($"{path}.{name}", $"the variable is {bytes} bytes (NAME=value, UTF-8); one environment variable is at most {Limits.EnvVarBytes} bytes"));
            }
        }
    }
}
