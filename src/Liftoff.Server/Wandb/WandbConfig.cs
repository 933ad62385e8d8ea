using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Core.Json;
using Liftoff.Server.Wandb.Graphql;

namespace Liftoff.Server.Wandb;

/// <summary>The user's config and the client's own <c>_wandb</c> section, as one upsertBucket carried them.</summary>
internal sealed record WandbConfigParts(string UserJson, string? WandbJson, string? PythonVersion);

/// <summary>
/// Run config between the wandb wire form and Liftoff's. The Python client sends each key wrapped,
/// <c>{"lr":{"desc":null,"value":0.1},"_wandb":{"value":{…}}}</c>; the JS client sends a plain object. Liftoff keeps
/// the user's keys unwrapped as the run's config (what the native API shows) and the <c>_wandb</c> section apart
/// (<see cref="Core.Runs.RunRecord.WandbJson"/>), and wraps both again when a client reads the config back.
/// </summary>
internal static class WandbConfig
{
    private const string WandbKey = "_wandb";

    /// <summary>
    /// A config is taken as wrapped when it has a <c>_wandb</c> key (every Python client sends one) or when every
    /// value is a wrapper; a plain config whose values merely look like wrappers is the one case this misreads.
    /// </summary>
    public static WandbConfigParts Parse(string json)
    {
        var config = ParseObject(json, "config");
        var wandb = config[WandbKey];
        config.Remove(WandbKey);
        var wrapped = wandb is not null || (config.Count > 0 && config.All(p => IsWrapper(p.Value)));
        if (wrapped)
        {
            foreach (var key in config.Select(p => p.Key).ToList())
            {
                config[key] = Unwrap(config[key]);
            }
        }

        wandb = wandb is null ? null : Unwrap(wandb);
        var python = wandb is JsonObject section && section["python_version"] is JsonValue version && version.TryGetValue<string>(out var text) ? text : null;
        return new WandbConfigParts(config.ToJsonString(), wandb?.ToJsonString(), python);
    }

    /// <summary>The wire form a wandb client reads back (upsertBucket's and RunResumeStatus's <c>config</c>).</summary>
    public static string Wrap(string userJson, string? wandbJson)
    {
        var wrapped = new JsonObject();
        foreach (var (key, value) in ParseObject(userJson, "config").ToList())
        {
            wrapped[key] = new JsonObject { ["value"] = value?.DeepClone() };
        }

        if (wandbJson is not null)
        {
            wrapped[WandbKey] = new JsonObject { ["value"] = JsonNode.Parse(wandbJson) };
        }

        return wrapped.ToJsonString();
    }

    /// <summary>A JSON object from a client's JSONString, its bare NaN/Infinity quoted (see <see cref="NonFiniteNumbers"/>).</summary>
    public static JsonObject ParseObject(string json, string what)
    {
        if (JsonText.FindUnkeepable(json, what) is { } unkeepable)
        {
            throw new GraphqlException($"{unkeepable.Field}: {unkeepable.Message}");
        }

        try
        {
            return JsonNode.Parse(NonFiniteNumbers.Quote(json)) as JsonObject ?? throw new GraphqlException($"{what} must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw new GraphqlException($"{what} is not valid JSON: {ex.Message}");
        }
    }

    private static bool IsWrapper(JsonNode? value) =>
        value is JsonObject wrapper && wrapper.ContainsKey("value") && wrapper.All(p => p.Key is "value" or "desc");

    private static JsonNode? Unwrap(JsonNode? value)
    {
        if (!IsWrapper(value))
        {
            return value;
        }

        var wrapper = (JsonObject)value!;
        var inner = wrapper["value"];
        wrapper.Remove("value");
        return inner;
    }
}
