using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.Runtime.CredentialManagement;
using Amazon.Runtime.Internal;
using Amazon.Runtime.Internal.Auth;
using Amazon.Runtime.Internal.Util;

namespace Liftoff.Targets.SageMaker;

/// <summary>
/// Calls one AWS JSON-protocol service (SageMaker, CloudWatch Logs): <c>POST /</c> with <c>X-Amz-Target</c>, the body
/// checked against the service model first, signed with Signature Version 4 by AWSSDK.Core's signer with credentials
/// from the standard AWS chain (environment, the named profile, web identity, container or instance role).
/// </summary>
internal sealed class AwsJsonClient
{
    private readonly HttpClient _http;
    private readonly AwsServiceModel _model;
    private readonly Uri _endpoint;
    private readonly string _region;
    private readonly AWSCredentials _credentials;

    public AwsJsonClient(HttpClient http, AwsServiceModel model, string region, Uri? endpoint, string? profile)
    {
        _http = http;
        _model = model;
        _region = region;
        _endpoint = endpoint ?? new Uri($"https://{model.EndpointPrefix}.{region}.amazonaws.com/");
        _credentials = Credentials(profile);
    }

    /// <summary>Calls <paramref name="operation"/>; throws <see cref="AwsException"/> with the service's error type and message.</summary>
    public async Task<JsonObject> CallAsync(string operation, JsonObject input, CancellationToken cancellationToken)
    {
        var problems = _model.Validate(input, _model.InputShape(operation), operation, AwsValidation.Request);
        if (problems.Count > 0)
        {
            throw new AwsException("ValidationException", string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}")));
        }

        var body = Encoding.UTF8.GetBytes(input.ToJsonString());
        var config = new SigningConfig(_model.SigningName, _region, _endpoint);
        var signed = new DefaultRequest(new SigningRequest(), _model.SigningName)
        {
            Endpoint = new Uri(_endpoint.GetLeftPart(UriPartial.Authority)),
            ResourcePath = _endpoint.AbsolutePath,
            HttpMethod = "POST",
            Content = body,
            AuthenticationRegion = _region,
        };
        signed.Headers["Content-Type"] = $"application/x-amz-json-{_model.JsonVersion}";
        signed.Headers["X-Amz-Target"] = $"{_model.TargetPrefix}.{operation}";
        // Temporary credentials (a role, SSO, web identity) carry a session token, which AWSSDK's request pipeline adds
        // before signing; so must we.
        var identity = await _credentials.GetCredentialsAsync();
        if (identity.UseToken)
        {
            signed.Headers["X-Amz-Security-Token"] = identity.Token;
        }

        new AWS4Signer().Sign(signed, config, new RequestMetrics(), _credentials);

        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body) };
        foreach (var (name, value) in signed.Headers)
        {
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(value);
            }
            else if (!name.Equals("Host", StringComparison.OrdinalIgnoreCase) && !name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        using var response = await _http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw AwsException.From((int)response.StatusCode, text);
        }

        return text.Length == 0 ? [] : JsonNode.Parse(text)?.AsObject() ?? [];
    }

    private static AWSCredentials Credentials(string? profile)
    {
        if (string.IsNullOrEmpty(profile))
        {
            return DefaultAWSCredentialsIdentityResolver.GetCredentials();
        }

        return new CredentialProfileStoreChain().TryGetAWSCredentials(profile, out var credentials)
            ? credentials
            : throw new AwsException("CredentialsNotFound", $"the AWS profile '{profile}' (environment.account) is in neither ~/.aws/credentials nor ~/.aws/config");
    }

    private sealed class SigningRequest : AmazonWebServiceRequest;

    private sealed class SigningConfig : ClientConfig
    {
        private readonly Uri _endpoint;

        public SigningConfig(string service, string region, Uri endpoint)
            : base(new DefaultConfigurationProvider([new DefaultConfiguration { Name = DefaultConfigurationMode.Standard, RetryMode = RequestRetryMode.Standard }]))
        {
            _endpoint = endpoint;
            AuthenticationServiceName = service;
            AuthenticationRegion = region;
        }

        public override string RegionEndpointServiceName => AuthenticationServiceName;

        public override string ServiceVersion => "liftoff";

        public override string UserAgent => "liftoff-agent";

        public override Amazon.Runtime.Endpoints.Endpoint DetermineServiceOperationEndpoint(Amazon.Runtime.Endpoints.ServiceOperationEndpointParameters parameters) =>
            new(_endpoint.ToString());
    }
}

/// <summary>An error an AWS service returned (<c>__type</c> and <c>message</c> of a JSON-protocol error), or a request the model refuses.</summary>
internal sealed class AwsException(string type, string message, int status = 400) : Exception($"{type}: {message}")
{
    public string Type { get; } = type;

    public int Status { get; } = status;

    public static AwsException From(int status, string body)
    {
        try
        {
            var error = JsonNode.Parse(body)?.AsObject();
            var type = ((string?)error?["__type"] ?? "UnknownError").Split('#')[^1];
            var message = (string?)(error?["message"] ?? error?["Message"]) ?? body;
            return new AwsException(type, message, status);
        }
        catch (JsonException)
        {
            return new AwsException($"Http{status}", body.Length > 300 ? body[..300] : body, status);
        }
    }
}
