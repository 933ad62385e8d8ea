using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>Who am I, users (admin only) and API keys.</summary>
internal static class IdentityApi
{
    public static IEndpointRouteBuilder MapIdentityApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1").RequireAuthorization().WithTags("Identity").MapGet("/viewer", GetViewer).RunKey(RunKeyAccess.Allowed).AgentKey(AgentKeyAccess.Allowed).CallersOwn();
        var api = app.MapGroup("/api/v1").RequireAuthorization().WithTags("Identity").CallersOwn();
        api.MapPost("/users", CreateUser).Audited("user.create");
        api.MapPost("/keys", CreateKey).Audited("key.create");
        api.MapGet("/keys", ListKeys);
        api.MapDelete("/keys/{id}", RevokeKey).Audited("key.revoke", "{id}");
        return app;
    }

    public static Ok<Viewer> GetViewer(HttpContext http)
    {
        var caller = Caller.From(http.User);
        return TypedResults.Ok(new Viewer(caller.Name, caller.KeyId, caller.Admin, caller.DefaultEntity));
    }

    public static async Task<Results<Created<CreatedUser>, ProblemHttpResult, ValidationProblem>> CreateUser(
        CreateUserRequest request, HttpContext http, IIdentityStore identities, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Caller.From(http.User).Admin)
        {
            return Problems.Forbidden("only an admin key can create users");
        }

        if (!Names.IsValid(request.Name))
        {
            return new Validation().Add("name", $"a user name is {Names.Rule}").Result;
        }

        AuditLog.Note(http, request.Name);
        var (key, secret) = ApiKeys.Create("default", time.GetUtcNow());
        var entity = await identities.CreateEntityAsync(request.Name!, admin: false, key, cancellationToken);
        return TypedResults.Created($"/api/v1/users/{entity.Name}", new CreatedUser(entity.Name, new CreatedKey(key.Id, key.Name, secret, key.CreatedAt)));
    }

    public static async Task<Results<Created<CreatedKey>, ValidationProblem>> CreateKey(
        CreateKeyRequest request, HttpContext http, IIdentityStore identities, TimeProvider time, CancellationToken cancellationToken)
    {
        if (Check(request) is { Any: true } errors)
        {
            return errors.Result;
        }

        var (key, secret) = NewKey(http, request, time);
        await identities.AddKeyAsync(Caller.From(http.User).Id, key, cancellationToken);
        return TypedResults.Created($"/api/v1/keys/{key.Id}", new CreatedKey(key.Id, key.Name, secret, key.CreatedAt, key.AgentQueues));
    }

    public static async Task<Ok<ApiKeyList>> ListKeys(HttpContext http, IIdentityStore identities, CancellationToken cancellationToken) =>
        TypedResults.Ok(await ListKeysAsync(identities, Caller.From(http.User).Id, cancellationToken));

    /// <summary>What a user's and a service account's key requests are held to: a name, and an agent-only key's queues.</summary>
    public static Validation Check(CreateKeyRequest request)
    {
        var errors = new Validation();
        errors.Check(request.Name is null or { Length: >= 1 and <= 64 }, "name", "a key name is 1 to 64 characters");
        if (request.Agent == true)
        {
            errors.Check(request.Queues is { Count: >= 1 and <= 100 }, "queues", "an agent-only key names 1 to 100 queues it works on");
            foreach (var (queue, i) in (request.Queues ?? []).Select((q, i) => (q, i)))
            {
                errors.Check(Names.IsValid(queue), $"queues[{i}]", $"a queue name is {Names.Rule}");
            }
        }
        else
        {
            errors.Check(request.Queues is null, "queues", "only an agent-only key (agent: true) names queues; a full key reaches every queue its owner may");
        }

        return errors;
    }

    /// <summary>The key a checked request asks for, noted in the audit entry (its id, name and queues; never the secret).</summary>
    public static (NewKey Key, string Secret) NewKey(HttpContext http, CreateKeyRequest request, TimeProvider time, string? account = null)
    {
        var (key, secret) = ApiKeys.Create(request.Name ?? "default", time.GetUtcNow(),
            request.Agent == true ? [.. request.Queues!.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)] : null);
        AuditLog.Note(http, key.Id, new JsonObject
        {
            ["name"] = key.Name,
            ["service_account"] = account,
            ["agent_queues"] = key.AgentQueues is { } queues ? new JsonArray([.. queues.Select(q => JsonValue.Create(q))]) : null,
        });
        return (key, secret);
    }

    public static async Task<ApiKeyList> ListKeysAsync(IIdentityStore identities, long entityId, CancellationToken cancellationToken) =>
        new([.. (await identities.ListKeysAsync(entityId, cancellationToken)).Select(k => new ApiKeyInfo(k.Id, k.Name, k.CreatedAt, k.RevokedAt, k.AgentQueues))]);

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        string id, HttpContext http, IIdentityStore identities, ApiKeyCache verified, TimeProvider time, CancellationToken cancellationToken)
    {
        var entityId = Caller.From(http.User).Id;
        if (!await identities.RevokeKeyAsync(entityId, id, time.GetUtcNow(), cancellationToken))
        {
            return Problems.NotFound($"key '{id}' not found");
        }

        verified.Forget(entityId, id);
        return TypedResults.NoContent();
    }
}
