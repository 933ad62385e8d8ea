using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Json;
using Liftoff.Core.Runs;
using Liftoff.Server.Apis;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Liftoff.Server.Wandb.Graphql;

namespace Liftoff.Server.Wandb;

/// <summary>
/// Liftoff runs as wandb "buckets": upsertBucket creates or updates one, and the run's fields are answered in the
/// names and types the wandb clients decode. The wandb run id (the bucket's <c>name</c>) is the Liftoff run id.
/// </summary>
internal static class WandbRuns
{
    private const int MaxDisplayName = 128;

    /// <summary>
    /// upsertBucket: creates the run (entity defaults to the key's, the project is created on first use, a missing
    /// display name is generated) or updates it, where a null or absent field leaves the stored value unchanged.
    /// A launched (pending) run is attached to, as the native init does.
    /// </summary>
    public static async ValueTask<object?> UpsertAsync(WandbServices services, GraphqlArguments input, CancellationToken cancellationToken)
    {
        var caller = services.Caller;
        var id = Given(input.String("name")) ?? Given(input.String("id")) ?? RunIds.NewId();
        if (!RunIds.IsValidId(id))
        {
            throw new GraphqlException($"'{id}' is not a valid run id: 1 to 64 letters, digits, '-' or '_'");
        }

        var acting = await services.ActOnAsync(input.String("entityName"), EntityRole.Member, "reporting a wandb run (upsertBucket)");
        if (!caller.MaySee(id))
        {
            throw new GraphqlException($"this key belongs to launched run {caller.RunScope}; it can only report into that run");
        }

        var project = Given(input.String("modelName"));
        if (project is not null && !Names.IsValid(project))
        {
            throw new GraphqlException($"'{project}' is not a valid Liftoff project name: {Names.Rule}");
        }

        var config = input.String("config") is { } configText ? WandbConfig.Parse(configText) : null;
        var summary = input.String("summaryMetrics") is { } summaryText ? WandbConfig.ParseObject(summaryText, "summaryMetrics").ToJsonString() : null;
        var displayName = Given(input.String("displayName")) is { } name ? name[..Math.Min(name.Length, MaxDisplayName)] : null;
        var host = Given(input.String("host"));
        var program = Given(input.String("jobProgram"));
        var now = services.Time.GetUtcNow();

        var created = new RunRecord(
            Id: id, Entity: acting.Entity, Project: project ?? RunsApi.DefaultProject, Name: displayName ?? RunIds.NewName(),
            State: RunStates.Running, ConfigJson: config?.UserJson ?? JsonObjects.Empty, SummaryJson: summary ?? JsonObjects.Empty,
            Host: host, Os: null, Program: program, PythonVersion: config?.PythonVersion, ExitCode: null,
            CreatedAt: now, StartedAt: now, EndedAt: null, HeartbeatAt: now, StopRequested: false, LastStep: null, LogLines: 0,
            CrashOnSilence: false, WandbJson: config?.WandbJson);
        if (await services.Store.TryCreateRunAsync(acting.EntityId, created, cancellationToken))
        {
            services.Signals.Notify(id);
            return Upserted(services, acting, created, inserted: true);
        }

        using var userConfig = config is null ? null : JsonDocument.Parse(config.UserJson);
        RunRecord? updated;
        try
        {
            updated = await services.Store.UpdateRunAsync(acting.EntityId, id, stored =>
            {
                if (project is not null && project != stored.Project)
                {
                    throw new RunConflictException(
                        $"run id '{id}' belongs to project '{stored.Project}', not '{project}': Liftoff run ids are unique across projects, so choose another id");
                }

                var configJson = userConfig is null ? stored.ConfigJson : JsonObjects.Merge(stored.ConfigJson, userConfig.RootElement);
                var next = stored.State == RunStates.Pending
                    ? RunLifecycle.Attach(stored, configJson, created, now) with { CrashOnSilence = false }
                    : RunLifecycle.Alive(stored, now) with { ConfigJson = configJson };
                return next with
                {
                    Name = displayName ?? next.Name,
                    SummaryJson = summary ?? next.SummaryJson,
                    Host = host ?? next.Host,
                    Program = program ?? next.Program,
                    PythonVersion = config?.PythonVersion ?? next.PythonVersion,
                    WandbJson = config?.WandbJson ?? next.WandbJson,
                };
            }, cancellationToken);
        }
        catch (RunConflictException ex)
        {
            throw new GraphqlException(ex.Message);
        }

        // Null: the id is another entity's run. Said like the native init's 409, without telling whose.
        if (updated is null)
        {
            throw new GraphqlException($"the run id '{id}' is taken; choose another");
        }

        services.Signals.Notify(id);
        return Upserted(services, acting, updated, inserted: false);
    }

    /// <summary><c>project(name, entityName)</c> (and the older <c>model(...)</c>): the project of the entity the query names.</summary>
    public static object? Project(WandbServices services, Acting acting, string? name)
    {
        var caller = services.Caller;
        if (!Names.IsValid(name ?? RunsApi.DefaultProject))
        {
            return null;
        }

        var project = name ?? RunsApi.DefaultProject;
        GraphqlResolver run = async (arguments, cancellationToken) =>
        {
            var id = Given(arguments.String("name"));
            var stored = id is null || !caller.MaySee(id) ? null : await services.Store.GetRunAsync(acting.EntityId, id, cancellationToken);
            return stored is null || stored.Project != project ? null : Bucket(services, acting, stored);
        };
        return new GraphqlObject("Project")
        {
            { "id", $"{acting.Entity}/{project}" },
            { "name", project },
            { "entityName", acting.Entity },
            { "entity", Entity(acting) },
            { "run", run },
            { "bucket", run },
        };
    }

    public static GraphqlObject Entity(Acting acting) => new("Entity")
    {
        { "id", acting.EntityId.ToString(CultureInfo.InvariantCulture) },
        { "name", acting.Entity },
        { "isTeam", false },
        { "organization", null },
    };

    /// <summary>A run in the wandb names. JSONString fields (config, summaryMetrics, the tails) are strings.</summary>
    public static GraphqlObject Bucket(WandbServices services, Acting acting, RunRecord run)
    {
        GraphqlResolver historyTail = async (_, cancellationToken) => await HistoryTailAsync(services, run, cancellationToken);
        GraphqlResolver wandbConfig = (arguments, _) => ValueTask.FromResult<object?>(WandbConfigSection(run, arguments.Strings("keys")));
        GraphqlResolver files = (arguments, _) => ValueTask.FromResult<object?>(Files(arguments.Strings("names")));
        return new GraphqlObject("Run")
        {
            { "id", run.Id },
            { "name", run.Id },
            { "displayName", run.Name },
            { "config", WandbConfig.Wrap(run.ConfigJson, run.WandbJson) },
            { "summaryMetrics", run.SummaryJson },
            { "historyLineCount", run.LastStep + 1 ?? 0 },
            { "logLineCount", run.LogLines },
            { "eventsLineCount", 0 },
            { "historyTail", historyTail },
            { "eventsTail", "[]" },
            { "tags", Array.Empty<string>() },
            { "state", run.State },
            { "stopped", run.StopRequested },
            { "host", run.Host },
            { "createdAt", DateTime(run.CreatedAt) },
            { "heartbeatAt", run.HeartbeatAt is { } heartbeat ? DateTime(heartbeat) : null },
            { "wandbConfig", wandbConfig },
            // Only a started run has run info; the resume check reads its presence.
            { "runInfo", run.State == RunStates.Pending ? null : new GraphqlObject("RunInfo") { { "program", run.Program }, { "args", Array.Empty<string>() } } },
            { "files", files },
            { "project", Project(services, acting, run.Project) },
        };
    }

    /// <summary>
    /// createRunFiles: the same files, each without an upload URL, which the clients read as "skip this upload".
    /// Liftoff has no blob store for run files yet, and a URL that stored them where nothing reads them would only
    /// cost the user the upload.
    /// </summary>
    public static object CreateRunFiles(GraphqlArguments input) => new GraphqlObject("CreateRunFilesPayload")
    {
        { "runID", input.String("runName") },
        { "uploadHeaders", Array.Empty<string>() },
        { "files", input.Strings("files").Select(f => new GraphqlObject("File") { { "name", f }, { "uploadUrl", null } }).ToList() },
    };

    private static GraphqlObject Upserted(WandbServices services, Acting acting, RunRecord run, bool inserted) =>
        new("UpsertBucketPayload") { { "bucket", Bucket(services, acting, run) }, { "inserted", inserted } };

    /// <summary>The older clients' upload-URL query (<c>bucket{files(names)}</c>): no URL either, for the same reason.</summary>
    private static GraphqlObject Files(IReadOnlyList<string> names) => new("FileConnection")
    {
        { "uploadHeaders", Array.Empty<string>() },
        { "edges", names.Select(n => new GraphqlObject("FileEdge") { { "node", new GraphqlObject("File") { { "name", n }, { "url", null }, { "directUrl", null } } } }).ToList() },
    };

    /// <summary>The run's last history line as the client logged it (with <c>_step</c> and <c>_timestamp</c>), for resume.</summary>
    private static async Task<string> HistoryTailAsync(WandbServices services, RunRecord run, CancellationToken cancellationToken)
    {
        if (run.LastStep is not { } last)
        {
            return "[]";
        }

        var rows = await services.Store.ReadHistoryAsync(run.Id, last - 1, 1, cancellationToken);
        var lines = rows.Select(row =>
        {
            var values = WandbConfig.ParseObject(row.ValuesJson, "history");
            values["_step"] = row.Step;
            values["_timestamp"] = row.Time;
            return (JsonNode?)values.ToJsonString();
        });
        return new JsonArray([.. lines]).ToJsonString();
    }

    private static string? WandbConfigSection(RunRecord run, IReadOnlyList<string> keys)
    {
        if (run.WandbJson is null || keys.Count == 0)
        {
            return run.WandbJson;
        }

        var section = WandbConfig.ParseObject(run.WandbJson, "_wandb");
        foreach (var key in section.Select(p => p.Key).Where(k => !keys.Contains(k)).ToList())
        {
            section.Remove(key);
        }

        return section.ToJsonString();
    }

    private static string? Given(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>RFC 3339 with the zone, which the Go client's time decoding requires and the Python client reads.</summary>
    private static string DateTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
