using System.Collections;
using System.Text.Json.Nodes;

namespace Liftoff.Server.Wandb.Graphql;

/// <summary>
/// A GraphQL object: its type name and fields. A field holds a value (string, number, bool, a raw JSON element, a
/// nested object or a list of them) or a <see cref="GraphqlResolver"/>, called only when a query selects the field,
/// so expensive fields cost nothing unless asked for.
/// </summary>
internal sealed class GraphqlObject(string typeName) : IEnumerable<KeyValuePair<string, object?>>
{
    private readonly Dictionary<string, object?> _fields = new(StringComparer.Ordinal);

    public string TypeName { get; } = typeName;

    public void Add(string name, object? value) => _fields[name] = value;

    public bool TryGetField(string name, out object? value) => _fields.TryGetValue(name, out value);

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _fields.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

internal delegate ValueTask<object?> GraphqlResolver(GraphqlArguments arguments, CancellationToken cancellationToken);

/// <summary>A field's arguments (or an input object), with variables already substituted.</summary>
internal sealed class GraphqlArguments(JsonObject values)
{
    public static readonly GraphqlArguments None = new([]);

    /// <summary>A string argument; null when absent, null, or not a string.</summary>
    public string? String(string name) =>
        values[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    public GraphqlArguments? Input(string name) => values[name] is JsonObject input ? new GraphqlArguments(input) : null;

    public IReadOnlyList<string> Strings(string name) => values[name] is JsonArray items
        ? [.. items.Select(i => i is JsonValue value && value.TryGetValue<string>(out var text) ? text : null).OfType<string>()]
        : [];
}

/// <summary>An error the client made or asked for (reported in the response's <c>errors</c>), not a server failure.</summary>
internal sealed class GraphqlException(string message) : Exception(message);
