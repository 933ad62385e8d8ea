using System.CommandLine;
using System.Globalization;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff audit</c>: the audit log of your entity (its admins), or of the whole server (the server admin).</summary>
internal sealed class AuditCommand : BaseCommand
{
    private static readonly Option<string?> SinceOption = new("--since") { Description = "Only entries from this time on: an ISO 8601 time, or a span back from now such as 30m, 24h, 7d." };
    private static readonly Option<string?> ActorOption = new("--actor") { Description = "Only entries by this user (or run id)." };
    private static readonly Option<string?> ActionOption = new("--action") { Description = "Only entries of this action, such as item.enqueue, queue.create, member.set, web.sign-in." };
    private static readonly Option<int> LimitOption = new("--limit", "-n") { Description = "How many entries at most.", DefaultValueFactory = _ => 100 };

    public AuditCommand() : base("audit", "Show the audit log, newest first: who did what, from where, on which object, and the outcome.")
    {
        Options.Add(SinceOption);
        Options.Add(ActorOption);
        Options.Add(ActionOption);
        Options.Add(LimitOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        DateTimeOffset? since = null;
        if (parseResult.GetValue(SinceOption) is { } text)
        {
            if (ParseSince(text, DateTimeOffset.UtcNow) is not { } parsed)
            {
                await Console.Error.WriteLineAsync($"liftoff: --since: '{text}' is neither an ISO 8601 time nor a span such as 30m, 24h or 7d");
                return ExitCodes.Usage;
            }

            since = parsed;
        }

        using var client = Connect();
        var wanted = Math.Max(1, parseResult.GetValue(LimitOption));
        var entries = new List<AuditEntryInfo>();
        string? cursor = null;
        do
        {
            var page = await client.ListAuditAsync(parseResult.GetValue(ActorOption), parseResult.GetValue(ActionOption), since: since,
                limit: Math.Clamp(wanted - entries.Count, 1, 1000), cursor: cursor, cancellationToken: cancellationToken);
            entries.AddRange(page.Entries);
            cursor = page.NextCursor;
        }
        while (cursor is not null && entries.Count < wanted);

        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(new AuditList(entries, cursor), LiftoffJsonContext.Default.AuditList);
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("WHEN", "ACTOR", "FROM", "ACTION", "OBJECT", "ENTITY", "OUTCOME");
        foreach (var e in entries)
        {
            table.AddRow(Output.Time(e.At), Markup.Escape(e.ActorKind == "user" ? e.Actor : $"{e.Actor} ({e.ActorKind})"), Markup.Escape(e.Address ?? ""),
                Markup.Escape(e.Action), Markup.Escape(e.Object ?? ""), Markup.Escape(e.Entity ?? ""), Markup.Escape(e.Outcome == "ok" ? "ok" : $"{e.Outcome} {e.Status}"));
        }

        Output.Table(table);
        return ExitCodes.Success;
    }

    /// <summary>An ISO 8601 time, or a span back from <paramref name="now"/>: a number and s, m, h or d.</summary>
    internal static DateTimeOffset? ParseSince(string text, DateTimeOffset now)
    {
        if (text.Length >= 2 && double.TryParse(text[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            return text[^1] switch
            {
                's' => now.AddSeconds(-amount),
                'm' => now.AddMinutes(-amount),
                'h' => now.AddHours(-amount),
                'd' => now.AddDays(-amount),
                _ => null,
            };
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;
    }
}
