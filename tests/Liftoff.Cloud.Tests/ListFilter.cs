using System.Globalization;

namespace Liftoff.Cloud.Tests;

/// <summary>
/// The part of the Google list-filter language (AIP-160) the stand-ins accept: comparisons <c>field="value"</c>,
/// <c>field&gt;"value"</c>, <c>field&gt;="value"</c> joined by AND and OR, with parentheses. Timestamps compare as instants.
/// A filter outside this subset is a contract violation, not a silent match.
/// </summary>
internal sealed class ListFilter
{
    private readonly List<string> _tokens;
    private int _position;

    private ListFilter(string text) => _tokens = Tokenize(text);

    /// <summary>Whether an object with <paramref name="fields"/> (dotted names to values) passes; throws <see cref="FormatException"/> on a filter it cannot read.</summary>
    public static bool Matches(string filter, IReadOnlyDictionary<string, string> fields)
    {
        var parser = new ListFilter(filter);
        var result = parser.Or(fields);
        if (parser._position != parser._tokens.Count)
        {
            throw new FormatException($"unexpected '{parser._tokens[parser._position]}' in filter: {filter}");
        }

        return result;
    }

    private bool Or(IReadOnlyDictionary<string, string> fields)
    {
        var result = And(fields);
        while (Peek() == "OR")
        {
            _position++;
            result |= And(fields);
        }

        return result;
    }

    private bool And(IReadOnlyDictionary<string, string> fields)
    {
        var result = Term(fields);
        while (Peek() == "AND")
        {
            _position++;
            result &= Term(fields);
        }

        return result;
    }

    private bool Term(IReadOnlyDictionary<string, string> fields)
    {
        if (Peek() == "(")
        {
            _position++;
            var inner = Or(fields);
            Expect(")");
            return inner;
        }

        var field = Next();
        var op = Next();
        var quoted = Next();
        if (op is not ("=" or ">" or ">=") || quoted.Length < 2 || quoted[0] != '"' || quoted[^1] != '"')
        {
            throw new FormatException($"'{field} {op} {quoted}' is not field=\"value\", field>\"value\" or field>=\"value\"");
        }

        var value = quoted[1..^1];
        if (!fields.TryGetValue(field, out var actual))
        {
            return false;
        }

        if (op == "=")
        {
            return actual == value;
        }

        var comparison = DateTimeOffset.TryParse(actual, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var a)
            && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var b)
            ? a.CompareTo(b)
            : string.CompareOrdinal(actual, value);
        return op == ">" ? comparison > 0 : comparison >= 0;
    }

    private string? Peek() => _position < _tokens.Count ? _tokens[_position] : null;

    private string Next() => _position < _tokens.Count ? _tokens[_position++] : throw new FormatException("the filter ends too soon");

    private void Expect(string token)
    {
        if (Next() != token)
        {
            throw new FormatException($"expected '{token}'");
        }
    }

    private static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '(' or ')')
            {
                tokens.Add(c.ToString());
                i++;
            }
            else if (c == '"')
            {
                var end = text.IndexOf('"', i + 1);
                if (end < 0)
                {
                    throw new FormatException("an unclosed quote in the filter");
                }

                tokens.Add(text[i..(end + 1)]);
                i = end + 1;
            }
            else if (c is '=' or '>')
            {
                var op = i + 1 < text.Length && text[i + 1] == '=' ? text.Substring(i, 2) : c.ToString();
                tokens.Add(op);
                i += op.Length;
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not ('(' or ')' or '=' or '>' or '"'))
                {
                    i++;
                }

                tokens.Add(text[start..i]);
            }
        }

        return tokens;
    }
}
