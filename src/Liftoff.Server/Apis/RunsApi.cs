using System.Text;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Json;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Blobs;
using Liftoff.Server.Runs;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

internal static class RunsApi
{
    public const string DefaultProject = "uncategorized";
    private const int MaxBatch = 10_000;
    private const int MaxPage = 10_000;

    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/v1/runs").RequireAuthorization().WithTags("Runs").RunKey(RunKeyAccess.OwnRun).Needs(EntityRole.Member);
        runs.MapPost("/", InitRun).RunKey(RunKeyAccess.Checked);
        runs.MapGet("/", ListRuns).RunKey(RunKeyAccess.UserKeyOnly).Needs(EntityRole.Viewer);
        runs.MapGet("/{id}", GetRun).AgentKey(AgentKeyAccess.Run).Needs(EntityRole.Viewer);
        runs.MapPatch("/{id}", PatchRun);
        runs.MapPost("/{id}/history", AppendHistory);
        runs.MapGet("/{id}/history", ReadHistory).Needs(EntityRole.Viewer);
        runs.MapPost("/{id}/logs", AppendLogs).AgentKey(AgentKeyAccess.Run).TakesConsoleText();
        runs.MapGet("/{id}/logs", ReadLogs).AgentKey(AgentKeyAccess.Run).Needs(EntityRole.Viewer);
        runs.MapPost("/{id}/heartbeat", Heartbeat);
        runs.MapPost("/{id}/finish", FinishRun).AgentKey(AgentKeyAccess.Run);
        runs.MapPost("/{id}/stop", StopRun).Audited("run.stop", "{id}");
        return app;
    }

    private static void CheckSize(Validation errors, string field, JsonElement? value)
    {
        if (Limits.TooLarge(value, Limits.ConfigBytes, field) is { } message)
        {
            errors.Add(field, message);
        }
    }

    public static async Task<Results<Created<RunInfo>, Ok<RunInfo>, ProblemHttpResult, ValidationProblem>> InitRun(
        InitRunRequest request, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var caller = services.Caller;
        var acting = services.Acting;
        var project = request.Project ?? DefaultProject;
        var errors = new Validation();
        errors.Check(Names.IsValid(project), "project", $"'{project}' is not a valid project name: {Names.Rule}");
        errors.Check(request.Id is null || RunIds.IsValidId(request.Id), "id", "a run id is 1 to 64 letters, digits, '-' or '_'");
        errors.Check(request.Name is null || request.Name.Length is >= 1 and <= Limits.RunName, "name", $"a run name is 1 to {Limits.RunName} characters");
        errors.Check(request.Config is null || request.Config.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null, "config", "config must be a JSON object");
        CheckSize(errors, "config", request.Config);
        foreach (var (field, text) in new[] { ("host", request.Host), ("os", request.Os), ("program", request.Program), ("python_version", request.PythonVersion) })
        {
            errors.Check(text is not { Length: > Limits.RunText }, field, $"{field} is {text?.Length} characters; the limit is {Limits.RunText}");
        }
        if (errors.Any)
        {
            return errors.Result;
        }

        if (request.Entity is not null && request.Entity != acting.Entity)
        {
            return Problems.NotFound($"entity '{request.Entity}' not found");
        }

        if (caller.RunScope is { } scope && request.Id != scope)
        {
            return Problems.Forbidden($"a run's key attaches only to its own launched run {scope}");
        }

        var now = services.Time.GetUtcNow();
        var config = request.Config is { ValueKind: JsonValueKind.Object } given ? given.GetRawText() : JsonObjects.Empty;
        var run = new RunRecord(
            Id: request.Id ?? RunIds.NewId(), Entity: acting.Entity, Project: project, Name: request.Name ?? RunIds.NewName(),
            State: RunStates.Running, ConfigJson: config, SummaryJson: JsonObjects.Empty,
            Host: request.Host, Os: request.Os, Program: request.Program, PythonVersion: request.PythonVersion, ExitCode: null,
            CreatedAt: now, StartedAt: now, EndedAt: null, HeartbeatAt: now, StopRequested: false, LastStep: null, LogLines: 0);
        if (await services.Store.TryCreateRunAsync(acting.EntityId, run, cancellationToken))
        {
            return TypedResults.Created($"/api/v1/runs/{run.Id}", Mapping.ToInfo(run));
        }

        if (request.Id is null)
        {
            throw new RunConflictException("a generated run id collided; retry");
        }

        // A launched job's init sent again (its answer was lost, say a replica died under it) finds its run already
        // attached: only that launch holds the run's key, so it gets the run back rather than a conflict.
        var attached = await services.Store.UpdateRunAsync(acting.EntityId, request.Id, stored => caller.RunScope == stored.Id && stored.State == RunStates.Running ? stored : RunLifecycle.Attach(
            stored,
            request.Config is { ValueKind: JsonValueKind.Object } patch ? JsonObjects.Merge(stored.ConfigJson, patch) : stored.ConfigJson,
            run,
            now), cancellationToken);
        return attached is null
            ? Problems.Conflict($"the run id '{request.Id}' is taken; choose another")
            : TypedResults.Ok(Mapping.ToInfo(attached));
    }

    /// <summary>
    /// Newest first and paged by cursor, or, with <paramref name="sort"/> or <paramref name="offset"/>, sorted and paged by
    /// offset; <paramref name="count"/> adds the number of matching runs.
    /// </summary>
    public static async Task<Results<Ok<RunList>, ValidationProblem, ProblemHttpResult>> ListRuns(
        string? project, string? state, int? limit, string? cursor, string? sort, string[]? filter, int? offset, bool? count, string? job, string? queue,
        [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(limit is null or >= 1 and <= 1000, "limit", "limit is 1 to 1000");
        long before = 0;
        errors.Check(cursor is null || (long.TryParse(cursor, out before) && before > 0), "cursor", "cursor must be a next_cursor from an earlier page");
        errors.Check(state is null or RunStates.Pending or RunStates.Running or RunStates.Finished or RunStates.Failed or RunStates.Killed or RunStates.Crashed,
            "state", "state is one of pending, running, finished, failed, killed, crashed");
        errors.Check(offset is null or >= 0, "offset", "offset is 0 or more");
        errors.Check(cursor is null || (sort is null && offset is null), "cursor", "cursor pages the default order; with sort or offset, page with offset");
        RunSort? order = null;
        if (sort is not null)
        {
            (order, var sortError) = RunListQueries.ParseSort(sort);
            errors.Check(sortError is null, "sort", sortError ?? "");
        }

        var filters = new List<RunFilter>();
        foreach (var (text, i) in (filter ?? []).Select((f, i) => (f, i)))
        {
            var (parsed, filterError) = RunListQueries.ParseFilter(text);
            if (parsed is null)
            {
                errors.Add($"filter[{i}]", filterError!);
            }
            else
            {
                filters.Add(parsed);
            }
        }

        if (errors.Any)
        {
            return errors.Result;
        }

        var entityId = services.Acting.EntityId;
        var page = await services.Store.ListRunsAsync(
            new RunQuery(entityId, project, state, limit ?? 100, cursor is null ? null : before, order, filters, offset, count == true, job, queue), cancellationToken);
        var items = await services.Queues.FindItemsByRunsAsync(entityId, [.. page.Runs.Select(r => r.Id)], cancellationToken);
        return TypedResults.Ok(new RunList(
            [.. page.Runs.Select(r => Mapping.ToInfo(r, items.GetValueOrDefault(r.Id)))],
            page.NextBefore?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            page.Total));
    }

    public static async Task<Results<Ok<RunInfo>, ProblemHttpResult>> GetRun(string id, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var run = await services.Store.GetRunAsync(services.Acting.EntityId, id, cancellationToken);
        return run is null
            ? Problems.RunNotFound(id)
            : TypedResults.Ok(Mapping.ToInfo(run, await services.Queues.FindItemByRunAsync(services.Acting.EntityId, id, cancellationToken)));
    }

    public static async Task<Results<Ok<RunInfo>, ProblemHttpResult, ValidationProblem>> PatchRun(
        string id, PatchRunRequest request, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(request.Name is null || request.Name.Length is >= 1 and <= Limits.RunName, "name", $"a run name is 1 to {Limits.RunName} characters");
        errors.Check(request.Config is null || request.Config.Value.ValueKind is JsonValueKind.Object, "config", "config must be a JSON object");
        errors.Check(request.Summary is null || request.Summary.Value.ValueKind is JsonValueKind.Object, "summary", "summary must be a JSON object");
        CheckSize(errors, "config", request.Config);
        CheckSize(errors, "summary", request.Summary);
        if (errors.Any)
        {
            return errors.Result;
        }

        var run = await services.Store.UpdateRunAsync(services.Acting.EntityId, id, stored =>
        {
            RunLifecycle.EnsureWritable(stored);
            return stored with
            {
                Name = request.Name ?? stored.Name,
                ConfigJson = request.Config is { } config ? JsonObjects.Merge(stored.ConfigJson, config) : stored.ConfigJson,
                SummaryJson = request.Summary is { } summary ? JsonObjects.Merge(stored.SummaryJson, summary) : stored.SummaryJson,
            };
        }, cancellationToken);
        return run is null ? Problems.RunNotFound(id) : TypedResults.Ok(Mapping.ToInfo(run));
    }

    public static async Task<Results<Ok<HistoryAccepted>, ProblemHttpResult, ValidationProblem>> AppendHistory(
        string id, HistoryBatch batch, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        var rows = batch.Rows;
        if (rows is null || rows.Count is 0 or > MaxBatch)
        {
            errors.Add("rows", $"rows must hold 1 to {MaxBatch} history rows");
            return errors.Result;
        }

        var now = services.Time.GetUtcNow();
        var stored = new StoredHistoryRow[rows.Count];
        for (var i = 0; i < rows.Count && !errors.Any; i++)
        {
            var row = rows[i];
            errors.Check(row.Step >= 0, $"rows[{i}].step", "step must be 0 or more");
            errors.Check(i == 0 || row.Step > rows[i - 1].Step, $"rows[{i}].step", $"steps must increase within a batch: {row.Step} follows {(i == 0 ? 0 : rows[i - 1].Step)}");
            errors.Check(row.Values.ValueKind == JsonValueKind.Object, $"rows[{i}].values", "values must be a JSON object of metric names to values");
            errors.Check(row.Time is null || double.IsFinite(row.Time.Value), $"rows[{i}].time", "time must be a finite number of Unix seconds");
            if (!errors.Any && FirstNonFinite(row.Values, $"rows[{i}].values") is { } path)
            {
                errors.Add(path, "metric values must be finite numbers (JSON has no NaN or Infinity)");
            }

            stored[i] = new StoredHistoryRow(row.Step, row.Time ?? now.ToUnixTimeMilliseconds() / 1000.0, errors.Any ? "" : row.Values.GetRawText());
        }

        if (errors.Any)
        {
            return errors.Result;
        }

        var result = await services.Store.AppendHistoryAsync(services.Acting.EntityId, id, stored, (run, replayed) => RunLifecycle.Alive(run, now) with
        {
            SummaryJson = JsonObjects.WithLastValues(run.SummaryJson, rows.Skip(replayed).Select(r => r.Values)),
        }, cancellationToken);
        if (result is null)
        {
            return Problems.RunNotFound(id);
        }

        services.Signals.Notify(id);
        return TypedResults.Ok(new HistoryAccepted(result.Accepted, result.Run.LastStep));
    }

    public static async Task<Results<Ok<HistoryPage>, ProblemHttpResult, ValidationProblem>> ReadHistory(
        string id, [FromQuery(Name = "after_step")] long? afterStep, int? limit, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        if (limit is not null and (< 1 or > MaxPage))
        {
            return new Validation().Add("limit", $"limit is 1 to {MaxPage}").Result;
        }

        if (await services.Store.GetRunAsync(services.Acting.EntityId, id, cancellationToken) is null)
        {
            return Problems.RunNotFound(id);
        }

        var take = limit ?? 1000;
        var rows = await services.Store.ReadHistoryAsync(id, afterStep ?? -1, take, cancellationToken);
        var page = rows.Select(r => new HistoryRow(r.Step, Mapping.Json(r.ValuesJson), r.Time)).ToList();
        return TypedResults.Ok(new HistoryPage(page, rows.Count == take ? rows[^1].Step : null));
    }

    public static async Task<Results<Ok<LogsAccepted>, ProblemHttpResult, ValidationProblem>> AppendLogs(
        string id, LogBatch batch, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        var lines = batch.Lines;
        errors.Check(batch.Offset >= 0, "offset", "offset must be 0 or more");
        errors.Check(lines is not null && lines.Count <= MaxBatch, "lines", $"lines must hold at most {MaxBatch} console lines");
        if (errors.Any)
        {
            return errors.Result;
        }

        var now = services.Time.GetUtcNow();
        var stored = new StoredLogLine[lines!.Count];
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            errors.Check(line.Stream is "stdout" or "stderr", $"lines[{i}].stream", "stream is stdout or stderr");
            errors.Check(line.Time is null || double.IsFinite(line.Time.Value), $"lines[{i}].time", "time must be a finite number of Unix seconds");
            stored[i] = new StoredLogLine(batch.Offset + i, line.Stream, line.Text, line.Time ?? now.ToUnixTimeMilliseconds() / 1000.0);
        }

        if (errors.Any)
        {
            return errors.Result;
        }

        var run = await services.Store.AppendLogsAsync(services.Acting.EntityId, id, batch.Offset, stored, r => RunLifecycle.ConsoleWritten(r, now), cancellationToken);
        if (run is null)
        {
            return Problems.RunNotFound(id);
        }

        services.Signals.Notify(id);
        return TypedResults.Ok(new LogsAccepted(run.LogLines));
    }

    /// <summary>
    /// NDJSON, one line per console line; with follow, open until the run ends or the client leaves. Lines an archive
    /// moved to a blob come from the blob, the rest from the store, in one sequence.
    /// </summary>
    /// <summary>
    /// Whether a launched run's agent may still send console lines: the SDK ends the run as soon as the script calls
    /// finish, but the agent ships the lines it captured after the workload exits, and only then reports its item
    /// ended. So a follower waits for the item of this attempt too (an item gone on to another attempt has no more).
    /// </summary>
    private static async Task<bool> ConsoleStillComingAsync(long entityId, string runId, RunServices services, CancellationToken cancellationToken) =>
        await services.Queues.FindItemByRunAsync(entityId, runId, cancellationToken) is { IsHeld: true } item && item.RunId == runId;

    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> ReadLogs(
        string id, long? after, bool? follow, HttpResponse response, [FromServices] IBlobStore blobs, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var entityId = services.Acting.EntityId;
        if (await services.Store.GetRunAsync(entityId, id, cancellationToken) is null)
        {
            return Problems.RunNotFound(id);
        }

        response.ContentType = "application/x-ndjson; charset=utf-8";
        var last = after ?? -1;
        var ended = false;
        var pastArchive = false;
        try
        {
            while (true)
            {
                var lines = await services.Store.ReadLogsAsync(id, last, 1000, cancellationToken);
                // Checked after the page is read: an archive completed in between deleted rows the page may lack, and
                // then the lines come from its blob (the page is read again after it).
                if (!pastArchive && await services.Store.GetConsoleArchiveAsync(id, cancellationToken) is { IsComplete: true } archive)
                {
                    pastArchive = true;
                    if (last < archive.Lines - 1)
                    {
                        await using var blob = await blobs.OpenReadAsync(archive.Sha256!, cancellationToken)
                            ?? throw new InvalidOperationException($"the blob store lacks blob {archive.Sha256}, which holds run {id}'s console lines 0 to {archive.Lines - 1}");
                        await ConsoleBlob.CopyAsync(blob, last, response.BodyWriter, cancellationToken);
                        last = archive.Lines - 1;
                        continue;
                    }
                }

                foreach (var line in lines)
                {
                    await ConsoleBlob.WriteLineAsync(response.Body, line, cancellationToken);
                    last = line.Line;
                }

                await response.Body.FlushAsync(cancellationToken);
                if (lines.Count == 1000)
                {
                    continue;
                }

                if (follow != true || ended)
                {
                    break;
                }

                var run = await services.Store.GetRunAsync(entityId, id, cancellationToken);
                if (run is null || ((run.IsTerminal || run.State == RunStates.Crashed) && !await ConsoleStillComingAsync(entityId, id, services, cancellationToken)))
                {
                    ended = true;
                    continue;
                }

                await services.Signals.WaitAsync(id, TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The follower went away: a normal end of a stream.
        }

        return TypedResults.Empty;
    }

    public static async Task<Results<Ok<HeartbeatReply>, ProblemHttpResult>> Heartbeat(string id, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        var run = await services.Store.UpdateRunAsync(services.Acting.EntityId, id, r => RunLifecycle.Alive(r, now), cancellationToken);
        return run is null ? Problems.RunNotFound(id) : TypedResults.Ok(new HeartbeatReply(run.State, run.StopRequested));
    }

    public static async Task<Results<Ok<RunInfo>, ProblemHttpResult>> FinishRun(string id, FinishRunRequest request, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        var run = await services.Store.UpdateRunAsync(services.Acting.EntityId, id, r => RunLifecycle.Finish(r, request.ExitCode, now), cancellationToken);
        if (run is null)
        {
            return Problems.RunNotFound(id);
        }

        services.Signals.Notify(id);
        return TypedResults.Ok(Mapping.ToInfo(run));
    }

    /// <summary>Asks the run to stop; a launched run's item is cancelled too, so its agent stops the workload.</summary>
    public static async Task<Results<Ok<RunInfo>, ProblemHttpResult>> StopRun(string id, [AsParameters] RunServices services, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        var entityId = services.Acting.EntityId;
        var run = await services.Store.UpdateRunAsync(entityId, id, r => RunLifecycle.RequestStop(r, now), cancellationToken);
        if (run is null)
        {
            return Problems.RunNotFound(id);
        }

        if (await services.Queues.FindItemByRunAsync(entityId, id, cancellationToken) is { IsHeld: true } item)
        {
            await services.Queues.UpdateItemAsync(entityId, item.Id, i => ItemLifecycle.Cancel(i, now), cancellationToken);
        }

        services.Signals.Notify(id);
        return TypedResults.Ok(Mapping.ToInfo(run));
    }

    /// <summary>The JSON path of the first number that is not a finite double (e.g. 1e999), or null.</summary>
    private static string? FirstNonFinite(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Number:
                return element.TryGetDouble(out var value) && double.IsFinite(value) ? null : path;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (FirstNonFinite(property.Value, $"{path}.{property.Name}") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FirstNonFinite(item, $"{path}[{index++}]") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            default:
                return null;
        }
    }
}

internal sealed class RunServices
{
    public required IRunStore Store { get; init; }

    public required RunSignals Signals { get; init; }

    public required IQueueStore Queues { get; init; }

    public required TimeProvider Time { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);

    public Acting Acting => Acting.Of(Http);
}
