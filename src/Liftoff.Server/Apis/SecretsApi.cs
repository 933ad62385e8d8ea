using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Secrets;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>
/// The caller's entity's secrets: set, list (names and dates), delete. No response carries a value. User keys only: a
/// launched job's run key may neither read nor change them. The scope is the caller's entity; a team's secrets would be
/// the same handlers on <c>/api/v1/teams/{team}/secrets</c> with the team's entity id.
/// </summary>
internal static class SecretsApi
{
    /// <summary>Large enough for a service-account JSON or a PEM key, small enough to pass as one environment value.</summary>
    public const int MaxValueChars = 32 * 1024;

    public static IEndpointRouteBuilder MapSecretsApi(this IEndpointRouteBuilder app)
    {
        var secrets = app.MapGroup("/api/v1/secrets").RequireAuthorization().WithTags("Secrets").Needs(EntityRole.Admin);
        secrets.MapGet("/", ListSecrets).Needs(EntityRole.Viewer);
        secrets.MapPut("/{name}", SetSecret).Audited("secret.set", "{name}");
        secrets.MapDelete("/{name}", DeleteSecret).Audited("secret.delete", "{name}");
        return app;
    }

    public static async Task<Ok<SecretList>> ListSecrets(HttpContext http, SecretVault vault, CancellationToken cancellationToken) =>
        TypedResults.Ok(new SecretList([.. (await vault.ListAsync(Acting.Of(http).EntityId, cancellationToken)).Select(s => new SecretInfo(s.Name, s.CreatedAt, s.UpdatedAt))]));

    public static async Task<Results<Ok<SecretInfo>, ValidationProblem>> SetSecret(
        string name, SetSecretRequest request, HttpContext http, SecretVault vault, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(SecretReferences.IsValidName(name), "name", $"a secret name is {SecretReferences.NameRule}");
        errors.Check(request.Value is { Length: > 0 and <= MaxValueChars }, "value", $"a secret's value is 1 to {MaxValueChars} characters");
        errors.Check(request.Value is null || !request.Value.Contains('\0', StringComparison.Ordinal), "value", "a secret's value cannot hold a NUL character (no environment variable can)");
        if (errors.Any)
        {
            return errors.Result;
        }

        var secret = await vault.SetAsync(Acting.Of(http).EntityId, name, request.Value!, cancellationToken);
        return TypedResults.Ok(new SecretInfo(secret.Name, secret.CreatedAt, secret.UpdatedAt));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteSecret(string name, HttpContext http, SecretVault vault, CancellationToken cancellationToken) =>
        await vault.DeleteAsync(Acting.Of(http).EntityId, name, cancellationToken)
            ? TypedResults.NoContent()
            : Problems.NotFound($"secret '{name}' not found");
}
