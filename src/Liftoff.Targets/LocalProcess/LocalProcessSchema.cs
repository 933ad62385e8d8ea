using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;

namespace Liftoff.Targets.LocalProcess;

/// <summary>The resource config of <c>local-process</c> queues: <c>env</c> and <c>python</c>.</summary>
internal static class LocalProcessSchema
{
    private static readonly string[] LocalProcessKeys = ["env", "python"];

    public static IReadOnlyList<FieldError> Validate(JsonObject config, string field)
    {
        var errors = new List<FieldError>();
        foreach (var (key, value) in config)
        {
            var path = $"{field}.{key}";
            switch (key)
            {
                case "env":
                    EnvConfig.Check(value, path, errors);
                    break;
                case "python":
                    if (value is not JsonValue py || py.GetValueKind() != JsonValueKind.String)
                    {
                        errors.Add(new FieldError(path, "python is the interpreter to create the job's environment with, e.g. \"python3\""));
                    }

                    break;
                default:
                    errors.Add(new FieldError(path, $"local-process does not take '{key}'; it takes: {string.Join(", ", LocalProcessKeys)}"));
                    break;
            }
        }

        return errors;
    }
}
