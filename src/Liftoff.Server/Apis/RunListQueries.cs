using System.Globalization;
using Liftoff.Server.Storage;

namespace Liftoff.Server.Apis;

/// <summary>
/// The query syntax of <c>GET /api/v1/runs</c>: <c>sort=[-]FIELD</c> and <c>filter=FIELD OP VALUE</c>, where FIELD is
/// <c>created_at</c>, <c>name</c>, <c>state</c>, <c>duration</c>, <c>config.KEY[.KEY...]</c> or <c>summary.KEY[.KEY...]</c>.
/// </summary>
internal static class RunListQueries
{
    public const string FieldRule = "created_at, name, state, duration, config.KEY or summary.KEY (nested keys joined by '.')";

    /// <summary>Longest first, so that "&gt;=" is not read as "&gt;" followed by "=...".</summary>
    private static readonly (string Text, RunFilterOperator Operator)[] Operators =
    [
        (">=", RunFilterOperator.GreaterOrEqual),
        ("<=", RunFilterOperator.LessOrEqual),
        ("!=", RunFilterOperator.NotEqual),
        ("=", RunFilterOperator.Equal),
        ("<", RunFilterOperator.Less),
        (">", RunFilterOperator.Greater),
        ("~", RunFilterOperator.Contains),
    ];

    public static RunField? ParseField(string text)
    {
        switch (text)
        {
            case "created_at":
                return RunField.Column(RunFieldKind.CreatedAt);
            case "name":
                return RunField.Column(RunFieldKind.Name);
            case "state":
                return RunField.Column(RunFieldKind.State);
            case "duration":
                return RunField.Column(RunFieldKind.Duration);
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return null;
        }

        var kind = text[..dot] switch
        {
            "config" => RunFieldKind.Config,
            "summary" => RunFieldKind.Summary,
            _ => (RunFieldKind?)null,
        };
        var path = text[(dot + 1)..].Split('.');
        return kind is null || path.Any(k => k.Length == 0 || k.Any(c => c == '"' || char.IsControl(c))) ? null : new RunField(kind.Value, path);
    }

    public static (RunSort? Sort, string? Error) ParseSort(string text)
    {
        var descending = text.StartsWith('-');
        return ParseField(descending ? text[1..] : text) is { } field
            ? (new RunSort(field, descending), null)
            : (null, $"'{text}' is not a sort field: {FieldRule}, with a leading '-' for descending");
    }

    /// <summary>
    /// <c>config.lr&gt;=0.01</c>, <c>summary.best=true</c>, <c>config.optimizer="adam"</c>, <c>name~bert</c>. A value that reads
    /// as a JSON number is a number, <c>true</c>/<c>false</c> a boolean, a double-quoted one or anything else a string.
    /// </summary>
    public static (RunFilter? Filter, string? Error) ParseFilter(string text)
    {
        var at = text.IndexOfAny(['=', '!', '<', '>', '~']);
        if (at <= 0)
        {
            return (null, $"'{text}' is not FIELD OP VALUE with OP one of =, !=, <, <=, >, >=, ~ (contains), e.g. config.lr>=0.01");
        }

        var (op, kind) = Operators.FirstOrDefault(o => text.AsSpan(at).StartsWith(o.Text, StringComparison.Ordinal));
        if (op is null)
        {
            return (null, $"'{text}' has no operator: use =, !=, <, <=, >, >= or ~ (contains)");
        }

        var fieldText = text[..at];
        if (ParseField(fieldText) is not { Kind: RunFieldKind.Name or RunFieldKind.Config or RunFieldKind.Summary } field)
        {
            return (null, $"'{fieldText}' cannot be filtered on: use name, config.KEY or summary.KEY (filter states with the state parameter)");
        }

        var raw = text[(at + op.Length)..];
        object value = kind == RunFilterOperator.Contains ? raw
            : raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"' ? raw[1..^1]
            : raw is "true" or "false" ? raw == "true"
            : double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) ? number
            : raw;
        if (field.Kind == RunFieldKind.Name && value is not string)
        {
            value = raw;
        }

        if (value is bool && kind is not (RunFilterOperator.Equal or RunFilterOperator.NotEqual))
        {
            return (null, $"'{text}': true and false compare with = or != only");
        }

        return (new RunFilter(field, kind, value), null);
    }
}
