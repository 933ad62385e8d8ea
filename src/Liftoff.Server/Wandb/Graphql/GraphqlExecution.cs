using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GraphQLParser;
using Liftoff.Core.Json;
using GraphQLParser.AST;
using GraphQLParser.Exceptions;

namespace Liftoff.Server.Wandb.Graphql;

/// <summary>
/// One GraphQL request run against <see cref="GraphqlObject"/>s: the document is parsed by GraphQL-Parser, the
/// operation picked, and every field it selects written in the shape asked for (aliases, fragments, @skip/@include).
/// Deliberately lenient rather than schema-checked: the wandb clients decode strictly (a requested field must be
/// present) but accept null, so a field Liftoff does not know is answered null. Only an unknown root field is an
/// error, because Liftoff cannot do what it asks.
/// </summary>
internal sealed class GraphqlExecution
{
    private const int MaxFragmentDepth = 32;
    private static readonly ParserOptions ParserOptions = new() { Ignore = IgnoreOptions.All };

    private readonly GraphQLOperationDefinition _operation;
    private readonly Dictionary<string, GraphQLFragmentDefinition> _fragments;
    private readonly JsonElement _variables;
    private readonly List<(string Message, object[] Path)> _errors = [];

    private GraphqlExecution(GraphQLOperationDefinition operation, Dictionary<string, GraphQLFragmentDefinition> fragments, JsonElement variables)
    {
        _operation = operation;
        _fragments = fragments;
        _variables = variables;
    }

    public OperationType Operation => _operation.Operation;

    public string? OperationName => _operation.Name?.StringValue;

    /// <summary>Parses <paramref name="query"/> and picks the operation; false with a message the client can act on.</summary>
    public static bool TryPrepare(string query, string? operationName, JsonElement variables, out GraphqlExecution? execution, out string error)
    {
        execution = null;
        GraphQLDocument document;
        try
        {
            document = Parser.Parse(query, ParserOptions);
        }
        catch (GraphQLParserException ex)
        {
            error = $"the query is not valid GraphQL: {ex.Message}";
            return false;
        }

        var operations = document.Definitions.OfType<GraphQLOperationDefinition>().ToList();
        var chosen = operationName is null
            ? operations.Count == 1 ? operations[0] : null
            : operations.FirstOrDefault(o => o.Name?.StringValue == operationName);
        if (chosen is null)
        {
            error = operationName is null
                ? $"the document holds {operations.Count} operations; name one in 'operationName'"
                : $"the document has no operation named '{operationName}'";
            return false;
        }

        var fragments = new Dictionary<string, GraphQLFragmentDefinition>(StringComparer.Ordinal);
        foreach (var fragment in document.Definitions.OfType<GraphQLFragmentDefinition>())
        {
            fragments[fragment.FragmentName.Name.StringValue] = fragment;
        }

        execution = new GraphqlExecution(chosen, fragments, variables);
        error = "";
        return true;
    }

    /// <summary>A response carrying only errors, for requests that never reach execution (400) or are refused their entity (403, 404).</summary>
    public static byte[] ErrorResponse(string message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("errors");
            writer.WriteStartObject();
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The response document: <c>{"data": …}</c>, with <c>"errors"</c> when a field failed.</summary>
    public async Task<byte[]> ExecuteAsync(GraphqlObject root, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("data");
            await WriteObjectAsync(writer, root, [_operation.SelectionSet], [], isRoot: true, cancellationToken);
            if (_errors.Count > 0)
            {
                writer.WriteStartArray("errors");
                foreach (var (message, path) in _errors)
                {
                    writer.WriteStartObject();
                    writer.WriteString("message", message);
                    writer.WriteStartArray("path");
                    foreach (var segment in path)
                    {
                        if (segment is int index)
                        {
                            writer.WriteNumberValue(index);
                        }
                        else
                        {
                            writer.WriteStringValue((string)segment);
                        }
                    }

                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private async Task WriteObjectAsync(Utf8JsonWriter writer, GraphqlObject value, IReadOnlyList<GraphQLSelectionSet> selections, List<object> path, bool isRoot, CancellationToken cancellationToken)
    {
        writer.WriteStartObject();
        foreach (var (key, fields) in Collect(selections))
        {
            var field = fields[0];
            var name = field.Name.StringValue;
            writer.WritePropertyName(key);
            path.Add(key);
            object? resolved;
            if (name == "__typename")
            {
                resolved = value.TypeName;
            }
            else if (!value.TryGetField(name, out resolved))
            {
                if (isRoot)
                {
                    _errors.Add(($"Liftoff does not implement the {Operation.ToString().ToLowerInvariant()} field '{name}'", [.. path]));
                }
            }
            else if (resolved is GraphqlResolver resolve)
            {
                try
                {
                    resolved = await resolve(Arguments(field.Arguments), cancellationToken);
                }
                catch (GraphqlException ex)
                {
                    _errors.Add((ex.Message, [.. path]));
                    resolved = null;
                }
            }

            await WriteValueAsync(writer, resolved, [.. fields.Select(f => f.SelectionSet).OfType<GraphQLSelectionSet>()], path, cancellationToken);
            path.RemoveAt(path.Count - 1);
        }

        writer.WriteEndObject();
    }

    private async Task WriteValueAsync(Utf8JsonWriter writer, object? value, IReadOnlyList<GraphQLSelectionSet> selections, List<object> path, CancellationToken cancellationToken)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case int number:
                writer.WriteNumberValue(number);
                break;
            case long number:
                writer.WriteNumberValue(number);
                break;
            case JsonElement json:
                json.WriteTo(writer);
                break;
            case GraphqlObject nested:
                await WriteObjectAsync(writer, nested, selections, path, isRoot: false, cancellationToken);
                break;
            case IEnumerable items:
                writer.WriteStartArray();
                var index = 0;
                foreach (var item in items)
                {
                    path.Add(index++);
                    await WriteValueAsync(writer, item, selections, path, cancellationToken);
                    path.RemoveAt(path.Count - 1);
                }

                writer.WriteEndArray();
                break;
            default:
                throw new InvalidOperationException($"a resolver returned a {value.GetType().Name}, which has no GraphQL form");
        }
    }

    /// <summary>The fields a set of selections asks for, by response key, fragments expanded and merged.</summary>
    private List<(string Key, List<GraphQLField> Fields)> Collect(IReadOnlyList<GraphQLSelectionSet> selections)
    {
        var collected = new List<(string Key, List<GraphQLField> Fields)>();
        var byKey = new Dictionary<string, List<GraphQLField>>(StringComparer.Ordinal);
        void Visit(GraphQLSelectionSet selection, int depth)
        {
            foreach (var node in selection.Selections)
            {
                switch (node)
                {
                    case GraphQLField field when Included(field.Directives):
                        var key = (field.Alias?.Name ?? field.Name).StringValue;
                        if (!byKey.TryGetValue(key, out var fields))
                        {
                            byKey[key] = fields = [];
                            collected.Add((key, fields));
                        }

                        fields.Add(field);
                        break;
                    case GraphQLInlineFragment inline when Included(inline.Directives):
                        Visit(inline.SelectionSet, depth);
                        break;
                    case GraphQLFragmentSpread spread when Included(spread.Directives) && depth < MaxFragmentDepth
                        && _fragments.TryGetValue(spread.FragmentName.Name.StringValue, out var fragment):
                        Visit(fragment.SelectionSet, depth + 1);
                        break;
                }
            }
        }

        foreach (var selection in selections)
        {
            Visit(selection, 0);
        }

        return collected;
    }

    private bool Included(GraphQLDirectives? directives)
    {
        foreach (var directive in directives ?? Enumerable.Empty<GraphQLDirective>())
        {
            var condition = directive.Arguments?.Items.FirstOrDefault(a => a.Name.StringValue == "if") is { } argument
                && ToJson(argument.Value) is JsonValue value && value.TryGetValue<bool>(out var flag) && flag;
            var name = directive.Name.StringValue;
            if ((name == "skip" && condition) || (name == "include" && !condition))
            {
                return false;
            }
        }

        return true;
    }

    private GraphqlArguments Arguments(GraphQLArguments? arguments)
    {
        if (arguments is null)
        {
            return GraphqlArguments.None;
        }

        var values = new JsonObject();
        foreach (var argument in arguments)
        {
            values[argument.Name.StringValue] = ToJson(argument.Value);
        }

        return new GraphqlArguments(values);
    }

    private JsonNode? ToJson(GraphQLValue? value) => value switch
    {
        GraphQLVariable variable => Variable(variable.Name.StringValue),
        GraphQLStringValue text => JsonValue.Create(Keepable((string)text.Value)),
        GraphQLBooleanValue flag => JsonValue.Create(flag.BoolValue),
        GraphQLIntValue number => long.TryParse(number.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer)
            ? JsonValue.Create(integer)
            : JsonValue.Create(Finite(number.Value)),
        GraphQLFloatValue number => JsonValue.Create(Finite(number.Value)),
        GraphQLEnumValue name => JsonValue.Create(name.Name.StringValue),
        GraphQLListValue list => new JsonArray([.. (list.Values ?? []).Select(ToJson)]),
        GraphQLObjectValue input => new JsonObject((input.Fields ?? []).Select(f => KeyValuePair.Create(f.Name.StringValue, ToJson(f.Value)))),
        _ => null,
    };

    /// <summary>A literal no store could keep is refused as the request's JSON would be (see <see cref="JsonText"/>).</summary>
    private static string Keepable(string text) =>
        JsonText.IsValidUnicode(text) ? text : throw new GraphqlException("a string argument " + JsonText.NotUnicode);

    private static double Finite(ReadOnlySpan<char> literal) =>
        double.Parse(literal, CultureInfo.InvariantCulture) is var number && double.IsFinite(number) ? number : throw new GraphqlException($"the argument {literal} " + JsonText.BeyondDouble);

    /// <summary>A variable's value from the request, else the default the operation declares, else null.</summary>
    private JsonNode? Variable(string name)
    {
        if (_variables.ValueKind == JsonValueKind.Object && _variables.TryGetProperty(name, out var given))
        {
            return JsonNode.Parse(given.GetRawText());
        }

        var declared = _operation.Variables?.FirstOrDefault(v => v.Variable.Name.StringValue == name);
        return declared?.DefaultValue is { } fallback ? ToJson(fallback) : null;
    }
}
