using System.Globalization;
using System.Text.Json;
using GraphQLParser.AST;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Liftoff.Server.Wandb.Graphql;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Wandb;

/// <summary>
/// <c>POST /graphql</c>: the operations wandb clients need for init, log and finish, parsed and routed by field.
/// A request that is not GraphQL is 400; an operation Liftoff does not implement is 200 with an error naming it
/// (never 500: the clients retry 5xx for days).
/// </summary>
internal static class WandbGraphqlApi
{
    /// <summary>The newest client the wire reference was read from; clients warn past it, they do not stop.</summary>
    private const string MaxCliVersion = "0.31.0";

    private static readonly JsonElement CliVersionInfo = JsonDocument.Parse($$"""{"max_cli_version":"{{MaxCliVersion}}"}""").RootElement.Clone();

    /// <summary>What introspection (clients up to 0.25 probe before choosing code paths) reports per type.</summary>
    private static readonly Dictionary<string, string[]> TypeFields = new(StringComparer.Ordinal)
    {
        ["Query"] = ["viewer", "serverInfo", "project", "model", "entity"],
        ["Mutation"] = ["upsertBucket", "createRunFiles"],
        ["ServerInfo"] = ["cliVersionInfo", "latestLocalVersionInfo", "features"],
        ["Project"] = ["id", "name", "entityName", "entity", "run", "bucket"],
        ["Run"] = ["id", "name", "displayName", "config", "summaryMetrics", "historyLineCount", "logLineCount", "eventsLineCount",
            "historyTail", "eventsTail", "tags", "state", "stopped", "host", "createdAt", "heartbeatAt", "wandbConfig", "runInfo", "files", "project"],
        ["UpsertBucketInput"] = ["id", "name", "modelName", "entityName", "displayName", "config", "summaryMetrics", "host", "jobProgram"],
        ["CreateRunFilesInput"] = ["entityName", "projectName", "runName", "files"],
    };

    public static async Task<Utf8ContentHttpResult> Execute(HttpRequest request, [AsParameters] WandbServices services, CancellationToken cancellationToken)
    {
        JsonDocument body;
        try
        {
            body = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException ex)
        {
            return BadRequest($"the body is not JSON: {ex.Message}");
        }

        using (body)
        {
            var root = body.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("query", out var query) || query.ValueKind != JsonValueKind.String)
            {
                return BadRequest("the body must be a JSON object with a 'query' string");
            }

            var variables = root.TryGetProperty("variables", out var given) ? given : default;
            var operationName = root.TryGetProperty("operationName", out var named) && named.ValueKind == JsonValueKind.String ? named.GetString() : null;
            if (!GraphqlExecution.TryPrepare(query.GetString()!, operationName, variables, out var execution, out var error))
            {
                return BadRequest(error);
            }

            var operation = execution!.Operation switch
            {
                OperationType.Query => Query(services),
                OperationType.Mutation => Mutation(services),
                _ => null,
            };
            if (operation is null)
            {
                return BadRequest("subscriptions are not supported");
            }

            byte[] response;
            try
            {
                response = await execution.ExecuteAsync(operation, cancellationToken);
            }
            catch (EntityNotFoundException ex)
            {
                return Refused(ex.Message, StatusCodes.Status404NotFound);
            }
            catch (ForbiddenException ex)
            {
                return Refused(ex.Message, StatusCodes.Status403Forbidden);
            }

            services.Logger.LogDebug("wandb GraphQL {Operation} for {Entity}", execution.OperationName, services.Acting.Entity);
            return TypedResults.Text(response, "application/json");
        }
    }

    private static GraphqlObject Query(WandbServices services)
    {
        GraphqlResolver project = async (arguments, _) =>
            await services.SeeAsync(arguments.String("entityName")) is { } acting ? WandbRuns.Project(services, acting, arguments.String("name")) : null;
        GraphqlResolver entity = async (arguments, _) => await services.SeeAsync(arguments.String("name")) is { } acting ? WandbRuns.Entity(acting) : null;
        GraphqlResolver type = (arguments, _) => ValueTask.FromResult<object?>(Type(arguments.String("name")));
        return new GraphqlObject("Query")
        {
            { "viewer", Viewer(services) },
            { "serverInfo", ServerInfo() },
            { "project", project },
            { "model", project },
            { "entity", entity },
            { "__type", type },
        };
    }

    private static GraphqlObject Mutation(WandbServices services)
    {
        GraphqlResolver upsert = (arguments, cancellationToken) => WandbRuns.UpsertAsync(services, arguments.Input("input") ?? GraphqlArguments.None, cancellationToken);
        GraphqlResolver files = (arguments, _) => ValueTask.FromResult<object?>(WandbRuns.CreateRunFiles(arguments.Input("input") ?? GraphqlArguments.None));
        return new GraphqlObject("Mutation")
        {
            { "upsertBucket", upsert },
            { "createRunFiles", files },
        };
    }

    private static GraphqlObject Viewer(WandbServices services)
    {
        var caller = services.Caller;
        return new GraphqlObject("User")
        {
            { "id", caller.Id.ToString(CultureInfo.InvariantCulture) },
            { "entity", caller.Name },
            { "username", caller.Name },
            { "name", caller.Name },
            { "email", null },
            { "admin", caller.Admin },
            { "flags", "{}" },
            { "teams", (GraphqlResolver)(async (_, cancellationToken) => Teams(await services.Identities.ListTeamsAsync(caller.Id, all: false, cancellationToken))) },
        };
    }

    /// <summary>The teams the caller belongs to (where a client may set <c>entity=</c>); a run's key belongs to none.</summary>
    private static GraphqlObject Teams(IReadOnlyList<TeamRecord> teams) => new("EntityConnection")
    {
        { "edges", teams.Select(t => new GraphqlObject("EntityEdge") { { "node", new GraphqlObject("Entity") { { "id", t.Id.ToString(CultureInfo.InvariantCulture) }, { "name", t.Name } } } }).ToList() },
    };

    /// <summary>No features advertised: each one (gzip file_stream, structured console lines, …) changes what clients send.</summary>
    private static GraphqlObject ServerInfo() => new("ServerInfo")
    {
        { "cliVersionInfo", CliVersionInfo },
        { "latestLocalVersionInfo", null },
        { "features", Array.Empty<object>() },
    };

    /// <summary>
    /// <c>__type(name)</c>: the fields Liftoff answers. An unknown type has no fields rather than being null, because
    /// older clients read <c>.get("fields")</c> from the answer without a null check.
    /// </summary>
    private static GraphqlObject Type(string? name)
    {
        var fields = name is not null && TypeFields.TryGetValue(name, out var known) ? known : [];
        var described = fields.Select(f => new GraphqlObject("__Field") { { "name", f }, { "args", Array.Empty<object>() } }).ToList();
        return new GraphqlObject("__Type")
        {
            { "name", name },
            { "kind", name is not null && name.EndsWith("Input", StringComparison.Ordinal) ? "INPUT_OBJECT" : "OBJECT" },
            { "fields", described },
            { "inputFields", described },
        };
    }

    private static Utf8ContentHttpResult BadRequest(string message) => Refused(message, StatusCodes.Status400BadRequest);

    /// <summary>
    /// A GraphQL error answered with an HTTP status, as wandb's own server refuses an entity: the clients stop on a 4xx
    /// (the JS client's "Fatal HTTP error (403)", the Python client's CommError naming the message) rather than going
    /// on to stream into a run that was never made.
    /// </summary>
    private static Utf8ContentHttpResult Refused(string message, int status) =>
        TypedResults.Text(GraphqlExecution.ErrorResponse(message), "application/json", status);
}
