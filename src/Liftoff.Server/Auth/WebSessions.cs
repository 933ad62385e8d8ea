using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Liftoff.Server.Auth;

/// <summary>
/// The web app's sessions. Signing in with an API key opens a server-side session; the browser holds only the
/// session's random secret, in an HttpOnly, SameSite=Strict cookie, so page scripts never see a key. The store keeps the
/// secret's SHA-256, which is looked up on every request like a key, so signing out or revoking the key ends it at once
/// on every replica.
/// </summary>
internal static class WebSessions
{
    public const string CookieName = "liftoff_session";

    /// <summary>The header that carries the CSRF token on every state-changing request made with the session cookie.</summary>
    public const string CsrfHeader = "X-Liftoff-Csrf";

    /// <summary>The claim that marks a principal authenticated by the session cookie (rather than a Bearer key).</summary>
    public const string SessionClaim = "liftoff:session";

    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);

    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    public static string NewSecret() => "ses-" + RandomNumberGenerator.GetString(Alphabet, 43);

    public static string Hash(string secret) => ApiKeys.Hash(secret);

    /// <summary>
    /// The synchronizer token of a session: derived from its secret, so nothing more is stored, and unguessable without
    /// the cookie, which a cross-site page can send but never read. The app reads it from <c>GET /web/session</c>, a
    /// response other origins cannot read either.
    /// </summary>
    public static string CsrfToken(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("liftoff-csrf\n" + secret)));

    public static void SetCookie(HttpContext context, string secret, DateTimeOffset expires) =>
        context.Response.Cookies.Append(CookieName, secret, Options(context, expires));

    public static void DeleteCookie(HttpContext context) =>
        context.Response.Cookies.Delete(CookieName, Options(context, DateTimeOffset.UnixEpoch));

    private static CookieOptions Options(HttpContext context, DateTimeOffset expires) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = context.Request.IsHttps,
        Path = "/",
        Expires = expires,
        IsEssential = true,
    };

    public static bool IsSession(this ClaimsPrincipal user) => user.HasClaim(c => c.Type == SessionClaim);

    /// <summary>
    /// Refuses (403) a state-changing request authenticated by the session cookie unless it carries the session's CSRF
    /// token. Bearer requests are not affected: a browser never attaches a Bearer key by itself. Nor are anonymous routes
    /// (signing in), which act on no one's behalf.
    /// </summary>
    public static IApplicationBuilder UseCsrfProtection(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.User.IsSession() && !IsSafe(context.Request.Method) && context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is null
            && !HasToken(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status403Forbidden,
                    Title = "Cross-site request refused",
                    Detail = $"a request made with the session cookie must carry the {CsrfHeader} header the web app sends; reload the page",
                },
            });
            return;
        }

        await next(context);
    });

    private static bool IsSafe(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method);

    private static bool HasToken(HttpRequest request) =>
        request.Cookies[CookieName] is { } secret
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(request.Headers[CsrfHeader].ToString()), Encoding.ASCII.GetBytes(CsrfToken(secret)));
}
