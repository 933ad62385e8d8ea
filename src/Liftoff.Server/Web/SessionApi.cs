using Liftoff.Contracts;
using Liftoff.Server.Apis;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Web;

/// <summary>Signing the web app in and out (<see cref="WebSessions"/>).</summary>
internal static class SessionApi
{
    public static IEndpointRouteBuilder MapSessionApi(this IEndpointRouteBuilder app)
    {
        var session = app.MapGroup("/web/session").WithTags("Web");
        // Anonymous, and so outside the CSRF check; a cross-site page cannot send it anyway: the body must be JSON
        // (a cross-origin JSON POST needs a CORS preflight, which this server never grants).
        session.MapPost("/", SignIn).AllowAnonymous().Audited("web.sign-in");
        session.MapGet("/", GetSession).AllowAnonymous();
        session.MapDelete("/", SignOut).RequireAuthorization().CallersOwn().Audited("web.sign-out");
        return app;
    }

    public static async Task<Results<Ok<WebSession>, ProblemHttpResult, ValidationProblem>> SignIn(
        SignInRequest request, HttpContext http, IIdentityStore identities, TimeProvider time, CancellationToken cancellationToken)
    {
        if (request.Key is not { Length: > 0 } key)
        {
            return new Validation().Add("key", "paste an API key (liftoff keys create, or the key liftoff up printed)").Result;
        }

        var principal = await identities.FindKeyAsync(ApiKeys.Hash(key.Trim()), cancellationToken);
        if (principal is null)
        {
            return TypedResults.Problem("the API key is not valid or has been revoked", statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");
        }

        AuditLog.Note(http, actor: principal.Entity, entity: principal.Entity, entityId: principal.EntityId);
        if (principal.RunId is not null)
        {
            return Problems.Forbidden("this key belongs to one launched run and cannot sign in; use your own API key");
        }

        if (http.Request.Cookies[WebSessions.CookieName] is { Length: > 0 } previous)
        {
            await identities.DeleteSessionAsync(WebSessions.Hash(previous), cancellationToken);
        }

        var now = time.GetUtcNow();
        var secret = WebSessions.NewSecret();
        await identities.CreateSessionAsync(new NewSession(WebSessions.Hash(secret), principal.KeyId, now, now + WebSessions.Lifetime), cancellationToken);
        WebSessions.SetCookie(http, secret, now + WebSessions.Lifetime);
        return TypedResults.Ok(new WebSession(principal.Entity, principal.Admin, WebSessions.CsrfToken(secret)));
    }

    /// <summary>
    /// The app asks on load whether its cookie still holds a session, and learns the CSRF token; 204 when it holds none
    /// (signed out, or a Bearer request), which the app answers with the sign-in page.
    /// </summary>
    public static Results<Ok<WebSession>, NoContent> GetSession(HttpContext http)
    {
        if (!http.User.IsSession())
        {
            return TypedResults.NoContent();
        }

        var caller = Caller.From(http.User);
        return TypedResults.Ok(new WebSession(caller.Name, caller.Admin, WebSessions.CsrfToken(http.Request.Cookies[WebSessions.CookieName]!)));
    }

    public static async Task<NoContent> SignOut(HttpContext http, IIdentityStore identities, CancellationToken cancellationToken)
    {
        if (http.Request.Cookies[WebSessions.CookieName] is { Length: > 0 } secret)
        {
            await identities.DeleteSessionAsync(WebSessions.Hash(secret), cancellationToken);
        }

        WebSessions.DeleteCookie(http);
        return TypedResults.NoContent();
    }
}
