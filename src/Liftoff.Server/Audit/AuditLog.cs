using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Audit;

/// <summary>
/// Endpoint metadata: the request is a state-changing action recorded in the audit log as <paramref name="Action"/>,
/// on the object <paramref name="Object"/> names (route values in braces, <c>{project}/{name}:{alias}</c>) unless the
/// handler names it (<see cref="AuditLog.Note"/>).
/// </summary>
internal sealed record AuditedAction(string Action, string? Object = null);

/// <summary>
/// The one place the API layer records the audit log. Each request to an <see cref="AuditedAction"/> endpoint opens an
/// <see cref="AuditScope"/>: the store appends its entry inside the transaction of the first write that changes
/// something (the change and its record commit together). A request that ends without such a write (refused before the
/// store, denied, failed in the store and rolled back, or changing nothing) records its outcome here once it ends; a
/// request whose later step fails after an earlier write committed records that failure as a second entry. Rows are
/// never updated.
/// </summary>
internal sealed class AuditLog(IAuditStore store, TimeProvider time, ILogger<AuditLog> logger)
{
    /// <summary>What stands in a recorded config for a value that could be a secret (environment values).</summary>
    public const string Elided = "<elided>";

    /// <summary>
    /// What the handler knows of its action that the route does not say: the object, a JSON detail (never a secret's
    /// value: pass configs through <see cref="Redact"/>), the actor of an anonymous request (sign-in). Call it before the
    /// store write that makes the change.
    /// </summary>
    public static void Note(HttpContext http, string? obj = null, JsonObject? detail = null, string? actor = null, string? entity = null, long? entityId = null)
    {
        if (http.Features.Get<Request>() is { } request)
        {
            request.Object = obj ?? request.Object;
            request.Detail = detail ?? request.Detail;
            request.Actor = actor ?? request.Actor;
            (request.Entity, request.EntityId) = entity is null ? (request.Entity, request.EntityId) : (entity, entityId);
        }
    }

    /// <summary>Appends an entry made elsewhere (a background action); the one way in besides the request scope.</summary>
    public Task<long> RecordAsync(AuditEntry entry, CancellationToken cancellationToken) => store.AppendAuditAsync(entry, cancellationToken);

    /// <summary>
    /// Who made the request: a user, a service account (by its <c>NAME@TEAM</c>), a launched run (by its run id), or
    /// nobody known yet.
    /// </summary>
    public static (string Actor, string Kind) ActorOf(HttpContext http)
    {
        if (http.User.Identity?.IsAuthenticated != true)
        {
            return ("(anonymous)", AuditActorKinds.Anonymous);
        }

        var caller = Caller.From(http.User);
        return caller.RunScope is { } run ? (run, AuditActorKinds.Run)
            : caller.Account is not null ? (caller.Name, AuditActorKinds.ServiceAccount)
            : (caller.Name, AuditActorKinds.User);
    }

    /// <summary>
    /// A resource config as the log keeps it: every value under an <c>env</c>/<c>environment</c> key (objects, or
    /// <c>NAME=value</c> strings) replaced by <see cref="Elided"/>, since environment values are where credentials live;
    /// <c>${secret:NAME}</c> references are names and stay.
    /// </summary>
    public static JsonNode? Redact(JsonNode? config)
    {
        switch (config)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    obj[key] = IsEnvironment(key) ? ElideValues(value) : Redact(value);
                }

                return obj;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    array[i] = Redact(array[i]?.DeepClone());
                }

                return array;
            default:
                return config;
        }
    }

    private static bool IsEnvironment(string key) =>
        key.Equals("env", StringComparison.OrdinalIgnoreCase) || key.Equals("environment", StringComparison.OrdinalIgnoreCase);

    private static JsonNode? ElideValues(JsonNode? env) => env switch
    {
        JsonObject vars => new JsonObject(vars.Select(v => KeyValuePair.Create(v.Key, (JsonNode?)(v.Value is JsonValue value && IsSecretReference(value) ? value.DeepClone() : JsonValue.Create(Elided))))),
        JsonArray list => new JsonArray([.. list.Select(ElideListed)]),
        null => null,
        _ => JsonValue.Create(Elided),
    };

    /// <summary>
    /// One entry of an environment list: <c>NAME=value</c> (docker), or <c>{"name": …, "value": …}</c> (Kubernetes,
    /// Vertex) whose name and <c>valueFrom</c> (a reference, not a value) stay.
    /// </summary>
    private static JsonNode? ElideListed(JsonNode? item) => item switch
    {
        JsonValue v when v.TryGetValue<string>(out var text) && text.IndexOf('=', StringComparison.Ordinal) is > 0 and var at => JsonValue.Create(text[..at] + "=" + Elided),
        JsonObject named => new JsonObject(named.Select(p => KeyValuePair.Create(p.Key,
            p.Key.Equals("value", StringComparison.OrdinalIgnoreCase) ? JsonValue.Create(Elided) : p.Value?.DeepClone()))),
        _ => JsonValue.Create(Elided),
    };

    private static bool IsSecretReference(JsonValue value) =>
        value.TryGetValue<string>(out var text) && text.StartsWith("${secret:", StringComparison.Ordinal) && text.EndsWith('}') && text.IndexOf('}', StringComparison.Ordinal) == text.Length - 1;

    /// <summary>Outermost in the pipeline, so that it sees every outcome: the exception handler's problem included.</summary>
    internal async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<AuditedAction>() is not { } action)
        {
            await next(http);
            return;
        }

        // Read now: the exception handler clears the route values before this middleware sees the outcome.
        var request = new Request(action, time.GetUtcNow(), http.Connection.RemoteIpAddress?.ToString()) { Object = FromRoute(action.Object, http) };
        http.Features.Set(request);
        // An entry written with the change precedes the response; it carries the status the endpoint answers success with.
        var success = http.GetEndpoint()!.Metadata.GetOrderedMetadata<IProducesResponseTypeMetadata>()
            .FirstOrDefault(m => m.StatusCode is >= 200 and < 300)?.StatusCode ?? StatusCodes.Status200OK;
        var scope = new AuditScope((outcome, _) => request.Describe(http, outcome, success));
        try
        {
            using (scope.Open())
            {
                await next(http);
            }
        }
        finally
        {
            var status = http.Response.StatusCode;
            var outcome = Outcome(status);
            if (scope.RecordedId is null || outcome != AuditOutcomes.Ok)
            {
                try
                {
                    await store.AppendAuditAsync(request.Describe(http, outcome, status), CancellationToken.None);
                }
                catch (Exception ex)
                {
                    // The change did not commit (or committed with its entry); failing the response now would tell the
                    // caller something other than what happened to their request.
                    logger.LogError(ex, "Could not record {Action} ({Outcome}) in the audit log", action.Action, outcome);
                }
            }
        }
    }

    /// <summary>The outcome of a finished request by its status.</summary>
    public static string Outcome(int status) => status switch
    {
        < 400 => AuditOutcomes.Ok,
        StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden or StatusCodes.Status404NotFound => AuditOutcomes.Denied,
        < 500 => AuditOutcomes.Refused,
        _ => AuditOutcomes.Failed,
    };

    private static string? FromRoute(string? template, HttpContext http)
    {
        if (template is null)
        {
            return null;
        }

        var text = template;
        foreach (var (name, value) in http.Request.RouteValues)
        {
            text = text.Replace("{" + name + "}", value?.ToString(), StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>The entry a request is building.</summary>
    private sealed class Request(AuditedAction action, DateTimeOffset at, string? address)
    {
        public string? Object { get; set; }

        public JsonObject? Detail { get; set; }

        public string? Actor { get; set; }

        public string? Entity { get; set; }

        public long? EntityId { get; set; }

        public AuditEntry Describe(HttpContext http, string outcome, int status)
        {
            var (actor, kind) = ActorOf(http);
            if (Actor is not null && kind == AuditActorKinds.Anonymous)
            {
                (actor, kind) = (Actor, AuditActorKinds.User);
            }

            var acting = http.Features.Get<Acting>();
            var (entityId, entity) = Entity is not null ? (EntityId, Entity)
                : acting is not null ? (acting.EntityId, acting.Entity)
                : http.User.Identity?.IsAuthenticated == true ? (Caller.From(http.User).Id, Caller.From(http.User).Name)
                : ((long?)null, (string?)null);
            return new AuditEntry(at, entityId, entity, actor, kind, address, action.Action, Object, outcome, status,
                Detail?.ToJsonString());
        }
    }
}

internal static class AuditLogRegistration
{
    public static TBuilder Audited<TBuilder>(this TBuilder builder, string action, string? obj = null)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new AuditedAction(action, obj));

    public static IApplicationBuilder UseAuditLog(this IApplicationBuilder app)
    {
        var log = app.ApplicationServices.GetRequiredService<AuditLog>();
        return app.Use(log.InvokeAsync);
    }
}
