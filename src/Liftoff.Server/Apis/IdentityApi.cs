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
        app.MapGroup("/api/v1").RequireAuthorization().WithTags("Identity").MapGet("/viewer", GetViewer).RunKey(RunKeyAccess.Allowed).CallersOwn();
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
        if (request.Name is { Length: 0 or > 64 })
        {
            return new Validation().Add("name", "a key name is 1 to 64 characters").Result;
        }

        var (key, secret) = ApiKeys.Create(request.Name ?? "default", time.GetUtcNow());
        AuditLog.Note(http, key.Id, new System.Text.Json.Nodes.JsonObject { ["name"] = key.Name });
        await identities.AddKeyAsync(Caller.From(http.User).Id, key, cancellationToken);
        return TypedResults.Created($"/api/v1/keys/{key.Id}", new CreatedKey(key.Id, key.Name, secret, key.CreatedAt));
    }

    public static async Task<Ok<ApiKeyList>> ListKeys(HttpContext http, IIdentityStore identities, CancellationToken cancellationToken)
    {
        var keys = await identities.ListKeysAsync(Caller.From(http.User).Id, cancellationToken);
        return TypedResults.Ok(new ApiKeyList([.. keys.Select(k => new ApiKeyInfo(k.Id, k.Name, k.CreatedAt, k.RevokedAt))]));
    }

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
