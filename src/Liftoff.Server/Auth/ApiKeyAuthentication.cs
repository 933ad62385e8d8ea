using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Liftoff.Server.Auth;

/// <summary>
/// <c>Authorization: Bearer KEY</c>, and under <see cref="BasicSchemeName"/> also HTTP Basic with the key as the
/// password (<c>api:KEY</c>, what the wandb clients send). Without an Authorization header, the default scheme takes the
/// web app's session cookie (<see cref="WebSessions"/>). Full keys verified in the last second are taken from
/// <see cref="ApiKeyCache"/>: a key revoked through this server stops working at once, one revoked through another replica
/// within a second. Run-scoped keys and sessions are looked up on every request.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IIdentityStore identities,
    ApiKeyCache verified,
    IProblemDetailsService problems,
    TimeProvider time)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    /// <summary>The scheme of the routes the wandb clients call: Bearer or Basic.</summary>
    public const string BasicSchemeName = "ApiKeyOrBasic";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            // The wandb routes' scheme is for wandb clients, which never hold the web app's cookie.
            return !Options.AcceptBasic && Request.Cookies[WebSessions.CookieName] is { Length: > 0 } session
                ? await AuthenticateSessionAsync(session)
                : AuthenticateResult.NoResult();
        }

        var basic = header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase);
        if (basic && !Options.AcceptBasic)
        {
            // The wandb routes' scheme judges Basic; failing here too would log a failure for each of their requests.
            return AuthenticateResult.NoResult();
        }

        var key = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim()
            : basic ? BasicPassword(header["Basic ".Length..].Trim())
            : null;
        if (key is null)
        {
            return Fail(Options.AcceptBasic
                ? "the Authorization header must be 'Bearer <api key>' or HTTP Basic with the API key as the password"
                : "the Authorization header must be 'Bearer <api key>'");
        }

        var hash = ApiKeys.Hash(key);
        if (verified.TryGet(hash, out var known))
        {
            return Success(known);
        }

        var principal = await identities.FindKeyAsync(hash, Context.RequestAborted);
        if (principal is not null)
        {
            verified.Add(hash, principal);
        }

        return principal is null
            ? Fail("the API key is not valid or has been revoked: run 'liftoff login' with a current key")
            : Success(principal);
    }

    private async Task<AuthenticateResult> AuthenticateSessionAsync(string secret)
    {
        var principal = await identities.FindSessionAsync(WebSessions.Hash(secret), time.GetUtcNow(), Context.RequestAborted);
        return principal is null
            ? Fail("the web session has ended (signed out, expired, or its key was revoked): sign in again")
            : Success(principal, new Claim(WebSessions.SessionClaim, "true"));
    }

    private AuthenticateResult Success(KeyPrincipal principal, params Claim[] extra)
    {
        List<Claim> claims =
        [
            new(Caller.EntityIdClaim, principal.EntityId.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, principal.Entity),
            new(Caller.KeyIdClaim, principal.KeyId),
            new(Caller.AdminClaim, principal.Admin ? "true" : "false"),
        ];
        if (principal.RunId is { } runId)
        {
            claims.Add(new Claim(Caller.RunClaim, runId));
        }

        if (principal.DefaultEntity is { } defaultEntity)
        {
            claims.Add(new Claim(Caller.DefaultEntityClaim, defaultEntity));
        }

        if (principal.Account is { } account)
        {
            claims.Add(new Claim(Caller.TeamIdClaim, account.TeamId.ToString(CultureInfo.InvariantCulture)));
            claims.Add(new Claim(Caller.TeamClaim, account.Team));
            claims.Add(new Claim(Caller.RoleClaim, EntityRoles.Name(account.Role)));
        }

        if (principal.AgentQueues is { } queues)
        {
            claims.Add(new Claim(Caller.AgentQueuesClaim, queues));
        }

        claims.AddRange(extra);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = Context.Items[FailureKey] as string ?? "an API key is required: send 'Authorization: Bearer <api key>'",
            },
        });
    }

    /// <summary>The password of <c>base64(user:password)</c>; the user name (wandb sends "api") does not matter.</summary>
    private static string? BasicPassword(string credentials)
    {
        var bytes = new byte[credentials.Length];
        if (!Convert.TryFromBase64String(credentials, bytes, out var length))
        {
            return null;
        }

        var decoded = System.Text.Encoding.UTF8.GetString(bytes, 0, length);
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : decoded[(colon + 1)..];
    }

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureKey] = reason;
        return AuthenticateResult.Fail(reason);
    }

    private static readonly object FailureKey = new();
}

internal sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>Also accept HTTP Basic (only on the routes the wandb clients call, see <see cref="ApiKeyAuthenticationHandler.BasicSchemeName"/>).</summary>
    public bool AcceptBasic { get; set; }
}

/// <summary>
/// Who calls: the user or service account whose key or session this is, or for a run-scoped key (a launched job's), the
/// entity of its one run. A service account's key carries <see cref="Account"/> (its team and role); an agent-only
/// key, <see cref="AgentQueues"/>. Whose things a request touches is <see cref="Acting"/>.
/// </summary>
internal sealed record Caller(
    long Id, string Name, string KeyId, bool Admin, string? RunScope = null, string? DefaultEntity = null, AccountScope? Account = null, IReadOnlyList<string>? AgentQueues = null)
{
    public const string EntityIdClaim = "liftoff:entity_id";
    public const string KeyIdClaim = "liftoff:key_id";
    public const string AdminClaim = "liftoff:admin";
    public const string RunClaim = "liftoff:run";
    public const string DefaultEntityClaim = "liftoff:default_entity";
    public const string TeamIdClaim = "liftoff:account_team_id";
    public const string TeamClaim = "liftoff:account_team";
    public const string RoleClaim = "liftoff:account_role";
    public const string AgentQueuesClaim = "liftoff:agent_queues";

    public static Caller From(ClaimsPrincipal user) => new(
        long.Parse(user.FindFirstValue(EntityIdClaim)!, CultureInfo.InvariantCulture),
        user.FindFirstValue(ClaimTypes.Name)!,
        user.FindFirstValue(KeyIdClaim)!,
        user.FindFirstValue(AdminClaim) == "true",
        user.FindFirstValue(RunClaim),
        user.FindFirstValue(DefaultEntityClaim),
        user.FindFirstValue(TeamIdClaim) is { } teamId
            ? new AccountScope(long.Parse(teamId, CultureInfo.InvariantCulture), user.FindFirstValue(TeamClaim)!, EntityRoles.Parse(user.FindFirstValue(RoleClaim))!.Value)
            : null,
        user.FindFirstValue(AgentQueuesClaim)?.Split(','));

    /// <summary>Whether the key may touch run <paramref name="runId"/>.</summary>
    public bool MaySee(string runId) => RunScope is null || RunScope == runId;
}
