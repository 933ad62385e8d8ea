using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Apis.Auth.OAuth2;
using Liftoff.Contracts;

namespace Liftoff.Targets.Vertex;

/// <summary>
/// The Vertex AI REST calls the runner makes (<c>projects.locations.customJobs</c> create, get, list, cancel) and Cloud
/// Logging <c>entries:list</c>, authorised with Google credentials: a service-account key file, or application default
/// credentials. Made from the agent's <c>environment</c> settings when first needed.
/// </summary>
internal sealed class VertexClient(AgentOptions options) : IDisposable
{
    private const string Scope = "https://www.googleapis.com/auth/cloud-platform";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly SemaphoreSlim _credentialLock = new(1, 1);
    private GoogleCredential? _credential;

    public bool Configured => options.Environment is { Type: "gcp", Region.Length: > 0, Account.Length: > 0 };

    public TimeSpan PollInterval => options.Environment?.PollInterval ?? TimeSpan.FromSeconds(10);

    private EnvironmentSettings Settings => options.Environment is { Type: "gcp", Region.Length: > 0, Account.Length: > 0 } settings
        ? settings
        : throw new LaunchException(ItemPhases.Submit, "the vertex target needs 'environment: {type: gcp, region: ..., account: PROJECT}' in the agent config");

    /// <summary><c>projects/{project}/locations/{region}</c>.</summary>
    public string Parent => $"projects/{Settings.Account}/locations/{Settings.Region}";

    private Uri VertexBase => new(Settings.VertexEndpoint is { } endpoint ? endpoint.TrimEnd('/') + "/" : $"https://{Settings.Region}-aiplatform.googleapis.com/");

    private Uri LoggingBase => new(Settings.LoggingEndpoint is { } endpoint ? endpoint.TrimEnd('/') + "/" : "https://logging.googleapis.com/");

    public Task<JsonObject> CreateCustomJobAsync(JsonObject job, CancellationToken cancellationToken)
    {
        var problems = VertexProtoModel.Instance.Validate(job, VertexProtoModel.CustomJob, "customJob", VertexValidation.Request);
        if (problems.Count > 0)
        {
            throw new VertexException(400, "INVALID_ARGUMENT", string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}")));
        }

        return SendAsync(HttpMethod.Post, new Uri(VertexBase, $"v1/{Parent}/customJobs"), job, cancellationToken);
    }

    public Task<JsonObject> GetCustomJobAsync(string name, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, new Uri(VertexBase, $"v1/{name}"), null, cancellationToken);

    public Task<JsonObject> CancelCustomJobAsync(string name, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, new Uri(VertexBase, $"v1/{name}:cancel"), [], cancellationToken);

    /// <summary>One page of custom jobs matching <paramref name="filter"/> (the list filter syntax, e.g. <c>labels.k="v"</c>).</summary>
    public Task<JsonObject> ListCustomJobsAsync(string filter, string? pageToken, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, new Uri(VertexBase, $"v1/{Parent}/customJobs?filter={Uri.EscapeDataString(filter)}&pageSize=100"
            + (pageToken is null ? "" : $"&pageToken={Uri.EscapeDataString(pageToken)}")), null, cancellationToken);

    /// <summary>Cloud Logging entries:list over the project, oldest first.</summary>
    public Task<JsonObject> ListLogEntriesAsync(string filter, string? pageToken, CancellationToken cancellationToken)
    {
        var request = new JsonObject
        {
            ["resourceNames"] = new JsonArray($"projects/{Settings.Account}"),
            ["filter"] = filter,
            ["orderBy"] = "timestamp asc",
            ["pageSize"] = 1000,
        };
        if (pageToken is not null)
        {
            request["pageToken"] = pageToken;
        }

        return SendAsync(HttpMethod.Post, new Uri(LoggingBase, "v2/entries:list"), request, cancellationToken);
    }

    public void Dispose()
    {
        _http.Dispose();
        _credentialLock.Dispose();
    }

    private async Task<JsonObject> SendAsync(HttpMethod method, Uri uri, JsonObject? body, CancellationToken cancellationToken)
    {
        string token;
        try
        {
            token = await (await CredentialAsync(cancellationToken)).UnderlyingCredential.GetAccessTokenForRequestAsync(uri.ToString(), cancellationToken);
        }
        catch (Google.Apis.Auth.OAuth2.Responses.TokenResponseException ex)
        {
            throw new VertexException(401, "UNAUTHENTICATED", $"Google refused the agent's credentials: {ex.Error?.Error} {ex.Error?.ErrorDescription}".TrimEnd());
        }

        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw VertexException.From((int)response.StatusCode, text);
        }

        return text.Length == 0 ? [] : JsonNode.Parse(text)?.AsObject() ?? [];
    }

    private async Task<GoogleCredential> CredentialAsync(CancellationToken cancellationToken)
    {
        await _credentialLock.WaitAsync(cancellationToken);
        try
        {
            if (_credential is null)
            {
                var file = Settings.CredentialsFile;
                try
                {
                    _credential = (file is null
                        ? await GoogleCredential.GetApplicationDefaultAsync(cancellationToken)
                        : (await CredentialFactory.FromFileAsync<ServiceAccountCredential>(file, cancellationToken)).ToGoogleCredential()).CreateScoped(Scope);
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or JsonException or ArgumentException)
                {
                    throw new LaunchException(ItemPhases.Submit, $"no Google credentials for the vertex target ({(file is null ? "application default credentials" : file)}): {ex.Message}", ex);
                }
            }

            return _credential;
        }
        finally
        {
            _credentialLock.Release();
        }
    }
}

/// <summary>An error a Google API returned (<c>error.status</c> and <c>error.message</c>), or a request the protos refuse.</summary>
internal sealed class VertexException(int httpStatus, string status, string message) : Exception($"{status}: {message}")
{
    public int HttpStatus { get; } = httpStatus;

    public string Status { get; } = status;

    public static VertexException From(int httpStatus, string body)
    {
        try
        {
            var error = JsonNode.Parse(body)?["error"];
            return new VertexException(httpStatus, (string?)error?["status"] ?? $"HTTP {httpStatus}", (string?)error?["message"] ?? body);
        }
        catch (JsonException)
        {
            return new VertexException(httpStatus, $"HTTP {httpStatus}", body.Length > 300 ? body[..300] : body);
        }
    }
}
