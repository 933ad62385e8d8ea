using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Liftoff.Core.Json;
using Liftoff.Core.Runs;
using Liftoff.Server.Apis;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Wandb;

/// <summary>
/// <c>POST /files/{entity}/{project}/{run}/file_stream</c>: the wandb clients' stream of history, summary and console
/// lines, then <c>complete</c> with the exit code. Each file is a sparse map <c>line[offset + i]</c>, so a retried
/// request changes nothing. The summary is the client's own (it sends the whole of it): history does not change it.
/// The answer is always <c>{"stopped": …}</c>, how a stop request reaches the script.
/// The clients retry 5xx and 429 and give up the whole stream on other 4xx, so only what no retry can fix is refused.
/// </summary>
internal static class WandbFileStreamApi
{
    private const string History = "wandb-history.jsonl";
    private const string Summary = "wandb-summary.json";
    private const string Output = "output.log";
    private static ReadOnlySpan<byte> StepKey => "_step"u8;

    private static ReadOnlySpan<byte> TimestampKey => "_timestamp"u8;

    /// <summary>
    /// The run is found by id among the runs of the entity the path names (the caller needs the member role there, as
    /// upsertBucket did); the project segment is not checked, because a run id names one run in Liftoff and refusing a
    /// stream over a mismatch would lose its data.
    /// </summary>
    public static async Task<Results<Utf8ContentHttpResult, ProblemHttpResult, ValidationProblem>> Stream(
        string run, HttpRequest request, [AsParameters] WandbServices services, CancellationToken cancellationToken)
    {
        var entityId = services.Acting.EntityId;
        using var body = await ReadBodyAsync(request, cancellationToken);
        if (body is null)
        {
            return new Validation().Add("body", "the body must be a JSON object: {\"files\": {...}, \"complete\": ..., \"exitcode\": ...}").Result;
        }

        var stored = services.Caller.MaySee(run) ? await services.Store.GetRunAsync(entityId, run, cancellationToken) : null;
        if (stored is null)
        {
            return Problems.RunNotFound(run);
        }

        // Clients send nothing after complete; what still comes is a retry of data already stored.
        if (stored.IsTerminal)
        {
            return Stopped(stored);
        }

        var root = body.RootElement;
        var now = services.Time.GetUtcNow();
        var files = root.TryGetProperty("files", out var given) && given.ValueKind == JsonValueKind.Object ? given : default;
        var complete = root.TryGetProperty("complete", out var done) && done.ValueKind == JsonValueKind.True;
        var exitCode = root.TryGetProperty("exitcode", out var code) && code.TryGetInt32(out var exit) ? exit : 0;
        var preempting = root.TryGetProperty("preempting", out var pre) && pre.ValueKind == JsonValueKind.True;
        var heartbeat = (files.ValueKind != JsonValueKind.Object || !files.EnumerateObject().Any()) && !complete && !preempting;
        var summary = Chunk(files, Summary) is { Lines.Count: > 0 } summaryChunk ? SummaryJson(summaryChunk.Lines[^1], run, services.Logger) : null;

        var current = stored;
        var summaryStored = summary is null;
        var wrote = false;
        if (Chunk(files, History) is { } history && HistoryRows(history, stored.LastStep, now, run, services.Logger) is { Count: > 0 } rows)
        {
            var appended = await services.Store.AppendHistoryAsync(entityId, run, rows, (r, _) => RunLifecycle.Alive(r, now) with
            {
                SummaryJson = summary ?? r.SummaryJson,
            }, cancellationToken);
            current = appended?.Run;
            summaryStored = wrote = true;
        }

        if (current is not null && Chunk(files, Output) is { } output)
        {
            var lines = output.Lines.Select((line, i) => ConsoleLine(output.Offset + i, line, now)).ToList();
            current = await services.Store.WriteLogsAsync(entityId, run, lines, r => RunLifecycle.Alive(r, now), cancellationToken);
            wrote = true;
        }

        if (current is not null && (!wrote || !summaryStored || complete || heartbeat || preempting))
        {
            current = await services.Store.UpdateRunAsync(entityId, run, r =>
            {
                var next = RunLifecycle.Alive(r, now);
                next = next with
                {
                    SummaryJson = summaryStored ? next.SummaryJson : summary!,
                    // A client that heartbeats can be judged by its silence; one about to be preempted cannot.
                    CrashOnSilence = heartbeat || (next.CrashOnSilence && !preempting),
                };
                return complete ? RunLifecycle.Finish(next, exitCode, now) : next;
            }, cancellationToken);
        }

        if (current is null)
        {
            return Problems.RunNotFound(run);
        }

        services.Signals.Notify(run);
        return Stopped(current);
    }

    private static async Task<JsonDocument?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Utf8ContentHttpResult Stopped(RunRecord run) =>
        TypedResults.Text(run.StopRequested ? """{"stopped":true}"""u8 : """{"stopped":false}"""u8, "application/json");

    private static FileChunk? Chunk(JsonElement files, string name)
    {
        if (files.ValueKind != JsonValueKind.Object || !files.TryGetProperty(name, out var file) || file.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var offset = file.TryGetProperty("offset", out var at) && at.TryGetInt64(out var number) && number >= 0 ? number : 0;
        var lines = file.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array
            ? content.EnumerateArray().Select(l => l.ValueKind == JsonValueKind.String ? l.GetString()! : l.GetRawText()).ToList()
            : [];
        return new FileChunk(offset, lines);
    }

    /// <summary>The summary line is the whole summary: it replaces the stored one. A line that is no JSON object is dropped.</summary>
    private static string? SummaryJson(string line, string run, ILogger logger)
    {
        try
        {
            var quoted = NonFiniteNumbers.Quote(line);
            using var document = JsonDocument.Parse(quoted);
            if (document.RootElement.ValueKind == JsonValueKind.Object && JsonText.FindUnkeepable(quoted, "") is null)
            {
                return quoted;
            }
        }
        catch (JsonException)
        {
            // Logged below with the other case.
        }

        logger.LogWarning("Run {RunId}: dropped a summary line that is not a JSON object or holds what cannot be kept", run);
        return null;
    }

    /// <summary>
    /// A console line in the wandb form <c>[ERROR ]yyyy-MM-ddTHH:mm:ss.ffffff text</c>: the prefix marks stderr, the
    /// timestamp is the line's time. A line in another form is kept whole, as stdout, timed now.
    /// </summary>
    private static StoredLogLine ConsoleLine(long number, string line, DateTimeOffset now)
    {
        var rest = line.AsSpan();
        var stream = "stdout";
        if (rest.StartsWith("ERROR "))
        {
            stream = "stderr";
            rest = rest["ERROR ".Length..];
        }

        var time = now.ToUnixTimeMilliseconds() / 1000.0;
        const string Stamp = "yyyy-MM-ddTHH:mm:ss.ffffff";
        if (rest.Length >= Stamp.Length
            && DateTime.TryParseExact(rest[..Stamp.Length], Stamp, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var stamp))
        {
            time = (stamp - DateTime.UnixEpoch).TotalSeconds;
            rest = rest[Stamp.Length..];
            if (rest.StartsWith(" "))
            {
                rest = rest[1..];
            }
        }
        else if (stream == "stderr")
        {
            // Without its timestamp "ERROR " is not the stderr mark but the start of some other line format.
            rest = line.AsSpan();
            stream = "stdout";
        }

        return new StoredLogLine(number, stream, rest.ToString(), time);
    }

    private sealed record FileChunk(long Offset, IReadOnlyList<string> Lines);

    /// <summary>
    /// History lines as Liftoff rows. A line's <c>_step</c> is its step (its line number when it has none) and its
    /// <c>_timestamp</c> its time; the values are the line as the client sent it (bare NaN and Infinity quoted), so
    /// <c>_step</c>, <c>_runtime</c> and <c>_timestamp</c> stay in them as in wandb's own history. Lines at or below
    /// the run's last step are replays of stored lines (a retry, or a resumed client's offsets) and are skipped rather
    /// than refused: a wandb client cannot act on a refusal except by dropping its stream.
    /// </summary>
    private static List<StoredHistoryRow> HistoryRows(FileChunk chunk, long? lastStep, DateTimeOffset now, string run, ILogger logger)
    {
        var rows = new List<StoredHistoryRow>(chunk.Lines.Count);
        var last = lastStep ?? -1;
        var dropped = 0;
        for (var i = 0; i < chunk.Lines.Count; i++)
        {
            var line = NonFiniteNumbers.Quote(chunk.Lines[i]);
            if (JsonText.FindUnkeepable(line, "") is not null || !TryReadHistoryLine(line, out var given, out var time))
            {
                dropped++;
                continue;
            }

            var step = given ?? chunk.Offset + i;
            if (step <= last)
            {
                continue;
            }

            last = step;
            rows.Add(new StoredHistoryRow(step, time ?? now.ToUnixTimeMilliseconds() / 1000.0, line));
        }

        if (dropped > 0)
        {
            logger.LogWarning("Run {RunId}: dropped {Count} history lines that are not JSON objects or hold what cannot be kept", run, dropped);
        }

        return rows;
    }

    /// <summary>Checks that the line is one JSON object and reads its <c>_step</c> and <c>_timestamp</c>, in one pass without building a document.</summary>
    private static bool TryReadHistoryLine(string line, out long? step, out double? time)
    {
        step = null;
        time = null;
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(line.Length));
        try
        {
            var reader = new Utf8JsonReader(buffer.AsSpan(0, Encoding.UTF8.GetBytes(line, buffer)));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isStep = reader.ValueTextEquals(StepKey);
                var isTime = reader.ValueTextEquals(TimestampKey);
                reader.Read();
                if (isStep && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) && number >= 0)
                {
                    step = number;
                }
                else if (isTime && reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var seconds) && double.IsFinite(seconds))
                {
                    time = seconds;
                }
                else
                {
                    reader.Skip();
                }
            }

            return reader.TokenType == JsonTokenType.EndObject && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
