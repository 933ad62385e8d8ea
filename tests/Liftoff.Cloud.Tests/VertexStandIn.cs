using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Targets.Vertex;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Liftoff.Cloud.Tests;

/// <summary>
/// Vertex AI, Cloud Logging and Google's OAuth token endpoint on 127.0.0.1. The token endpoint verifies the service
/// account's JWT assertion (RS256 over the test's own RSA key, issuer, audience, scope, lifetime) with .NET's RSA;
/// every API call must carry a token it issued. CustomJob bodies are checked against the Vertex protos from
/// @google-cloud/aiplatform (the same contract data the enqueue checks use) and every CustomJob reply too. A job runs
/// worker pool 0's container command as a local process: JOB_STATE_PENDING → RUNNING → SUCCEEDED, or FAILED with the
/// replica's exit status in <c>error</c>, or CANCELLING → CANCELLED; its output lines are <c>ml_job</c> log entries.
/// </summary>
internal sealed class VertexStandIn : StandInHost
{
    public const string Project = "liftoff-tests";
    public const string Region = "europe-west4";
    public const string ClientEmail = "liftoff-agent@liftoff-tests.iam.gserviceaccount.com";
    private const string KeyId = "standin-key-1";

    private readonly RSA _key = RSA.Create(2048);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CustomJob> _jobs = new(StringComparer.Ordinal);
    private long _nextId = 1_000_000_000_000_000_000;

    public IReadOnlyDictionary<string, CustomJob> Jobs => _jobs;

    /// <summary>How many access tokens the token endpoint issued.</summary>
    public int TokensIssued => _tokens.Count;

    public static async Task<VertexStandIn> StartNewAsync()
    {
        var standIn = new VertexStandIn();
        await standIn.StartAsync();
        return standIn;
    }

    /// <summary>A service-account key file (the format the console downloads) with this stand-in's key and token endpoint.</summary>
    public string KeyFile() => new JsonObject
    {
        ["type"] = "service_account",
        ["project_id"] = Project,
        ["private_key_id"] = KeyId,
        ["private_key"] = _key.ExportPkcs8PrivateKeyPem(),
        ["client_email"] = ClientEmail,
        ["client_id"] = "100000000000000000001",
        ["auth_uri"] = new Uri(BaseUrl, "auth").ToString(),
        ["token_uri"] = new Uri(BaseUrl, "token").ToString(),
    }.ToJsonString();

    public string AgentConfig(string name, string queue, string keyFile) => $"""
        name: {name}
        queues: [{queue}]
        heartbeat_seconds: 0.3
        stop_grace_seconds: 2
        environment:
          type: gcp
          region: {Region}
          account: {Project}
          vertex_endpoint: {BaseUrl}
          logging_endpoint: {BaseUrl}
          credentials_file: {keyFile}
          poll_seconds: 0.2
        """;

    public override string Dump() => base.Dump() + "\njobs:\n  " + string.Join("\n  ", _jobs.Values.Select(j =>
        $"{j.Name}: {string.Join(" > ", j.History)}\n    " + string.Join("\n    ", j.Entries().Select(e => (string?)e["textPayload"]))));

    public override async ValueTask DisposeAsync()
    {
        foreach (var job in _jobs.Values)
        {
            job.Kill();
        }

        await base.DisposeAsync();
        _key.Dispose();
    }

    protected override void Map(WebApplication app)
    {
        app.MapPost("/token", TokenAsync);
        app.Map("/v1/{**path}", VertexAsync);
        app.MapPost("/v2/entries:list", LogEntriesAsync);
    }

    private async Task TokenAsync(HttpContext context)
    {
        Requests.Enqueue("POST /token");
        var form = await context.Request.ReadFormAsync();
        if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            await OAuthErrorAsync(context, "unsupported_grant_type", Violation($"grant_type '{form["grant_type"]}' is not the JWT bearer grant"));
            return;
        }

        // Google documents the assertion's audience as always https://oauth2.googleapis.com/token, whatever token_uri says.
        if (VerifyAssertion(form["assertion"].ToString(), "https://oauth2.googleapis.com/token") is { } bad)
        {
            await OAuthErrorAsync(context, "invalid_grant", Violation($"the JWT assertion: {bad}"));
            return;
        }

        var token = "ya29.standin-" + Guid.NewGuid().ToString("N");
        _tokens[token] = DateTimeOffset.UtcNow.AddHours(1);
        await context.Response.WriteAsJsonAsync(new JsonObject { ["access_token"] = token, ["expires_in"] = 3599, ["token_type"] = "Bearer" });
    }

    /// <summary>Null when the assertion is a service-account JWT signed by this stand-in's key; otherwise why not.</summary>
    private string? VerifyAssertion(string assertion, string audience)
    {
        var parts = assertion.Split('.');
        if (parts.Length != 3)
        {
            return "not three dot-separated parts";
        }

        JsonObject header, claims;
        try
        {
            header = JsonNode.Parse(Base64Url(parts[0]))!.AsObject();
            claims = JsonNode.Parse(Base64Url(parts[1]))!.AsObject();
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return $"unreadable: {ex.Message}";
        }

        if ((string?)header["alg"] != "RS256")
        {
            return $"alg {(string?)header["alg"]}, expected RS256";
        }

        if (!_key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
        {
            return "the RS256 signature does not verify with the service account's public key";
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var (iat, exp) = ((long?)claims["iat"] ?? 0, (long?)claims["exp"] ?? 0);
        return (string?)claims["iss"] != ClientEmail ? $"iss {(string?)claims["iss"]}, expected {ClientEmail}"
            : (string?)claims["aud"] != audience ? $"aud {(string?)claims["aud"]}, expected {audience}"
            : !((string?)claims["scope"] ?? "").Split(' ').Contains("https://www.googleapis.com/auth/cloud-platform") ? $"scope '{(string?)claims["scope"]}' lacks cloud-platform"
            : iat > now + 300 || exp < now || exp - iat > 3600 ? $"iat {iat} / exp {exp} is not a lifetime of at most an hour around now"
            : null;
    }

    private static byte[] Base64Url(string text) => Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/').PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));

    private bool Authorized(HttpContext context, out string? problem)
    {
        var header = context.Request.Headers.Authorization.ToString();
        problem = !header.StartsWith("Bearer ", StringComparison.Ordinal) ? "no Bearer token"
            : !_tokens.TryGetValue(header["Bearer ".Length..], out var expires) ? "a Bearer token the token endpoint never issued"
            : expires < DateTimeOffset.UtcNow ? "an expired token"
            : null;
        return problem is null;
    }

    private async Task VertexAsync(HttpContext context)
    {
        var path = context.Request.Path.Value!;
        Requests.Enqueue($"{context.Request.Method} {path}");
        if (!Authorized(context, out var problem))
        {
            await ErrorAsync(context, 401, "UNAUTHENTICATED", Violation($"{path}: {problem}"));
            return;
        }

        var parent = $"/v1/projects/{Project}/locations/{Region}/customJobs";
        if (!path.StartsWith(parent, StringComparison.Ordinal))
        {
            await ErrorAsync(context, 404, "NOT_FOUND", Violation($"{path} is not under {parent} (the project and region of this endpoint)"));
            return;
        }

        var rest = path[parent.Length..];
        var method = context.Request.Method;
        if (rest.Length == 0 && method == "POST")
        {
            await CreateAsync(context);
        }
        else if (rest.Length == 0 && method == "GET")
        {
            await ListAsync(context);
        }
        else if (rest.StartsWith('/') && _jobs.TryGetValue(path[4..].Replace(":cancel", "", StringComparison.Ordinal), out var job))
        {
            if (method == "POST" && rest.EndsWith(":cancel", StringComparison.Ordinal))
            {
                if (!job.Cancel())
                {
                    await ErrorAsync(context, 400, "FAILED_PRECONDITION", $"Cannot cancel the job {job.Name} in state {job.State}.");
                    return;
                }

                await context.Response.WriteAsJsonAsync(new JsonObject());
            }
            else if (method == "GET" && !rest.Contains(':', StringComparison.Ordinal))
            {
                await ReplyAsync(context, job.ToJson());
            }
            else
            {
                await ErrorAsync(context, 404, "NOT_FOUND", Violation($"{method} {path} is not a customJobs method"));
            }
        }
        else
        {
            await ErrorAsync(context, 404, "NOT_FOUND", $"The CustomJob {path[4..]} does not exist.");
        }
    }

    private async Task CreateAsync(HttpContext context)
    {
        JsonObject body;
        try
        {
            body = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NullReferenceException)
        {
            await ErrorAsync(context, 400, "INVALID_ARGUMENT", Violation($"the CustomJob is not a JSON object: {ex.Message}"));
            return;
        }

        var problems = VertexProtoModel.Instance.Validate(body, VertexProtoModel.CustomJob, "customJob", VertexValidation.Request);
        if (problems.Count > 0)
        {
            await ErrorAsync(context, 400, "INVALID_ARGUMENT", Violation(string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}"))));
            return;
        }

        var id = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var job = new CustomJob($"projects/{Project}/locations/{Region}/customJobs/{id}", id, body);
        _jobs[job.Name] = job;
        job.Run();
        await ReplyAsync(context, job.ToJson());
    }

    private async Task ListAsync(HttpContext context)
    {
        var filter = context.Request.Query["filter"].ToString();
        var matching = new JsonArray();
        try
        {
            foreach (var job in _jobs.Values)
            {
                if (filter.Length == 0 || ListFilter.Matches(filter, job.FilterFields()))
                {
                    matching.Add(job.ToJson());
                }
            }
        }
        catch (FormatException ex)
        {
            await ErrorAsync(context, 400, "INVALID_ARGUMENT", Violation($"filter: {ex.Message}"));
            return;
        }

        foreach (var job in matching)
        {
            Check(job!.AsObject());
        }

        await context.Response.WriteAsJsonAsync(new JsonObject { ["customJobs"] = matching });
    }

    /// <summary>
    /// entries:list. The Cloud Logging protos are not in the packages the project pins, so this request is checked by
    /// hand against the documented ListLogEntriesRequest: its fields, their types, orderBy's two values, pageSize ≤ 1000.
    /// </summary>
    private async Task LogEntriesAsync(HttpContext context)
    {
        Requests.Enqueue("POST /v2/entries:list");
        if (!Authorized(context, out var problem))
        {
            await ErrorAsync(context, 401, "UNAUTHENTICATED", Violation($"entries:list: {problem}"));
            return;
        }

        var body = (await JsonNode.ParseAsync(context.Request.Body))?.AsObject() ?? [];
        var known = new[] { "resourceNames", "filter", "orderBy", "pageSize", "pageToken" };
        var wrong = body.Where(p => !known.Contains(p.Key)).Select(p => $"unknown field {p.Key}")
            .Concat(body["resourceNames"] is JsonArray names && names.All(n => (string?)n == $"projects/{Project}") ? [] : ["resourceNames must be [\"projects/{project}\"]"])
            .Concat((string?)body["orderBy"] is null or "timestamp asc" or "timestamp desc" ? [] : ["orderBy is \"timestamp asc\" or \"timestamp desc\""])
            .Concat(body["pageSize"] is null || ((int?)body["pageSize"] is > 0 and <= 1000) ? [] : ["pageSize is 1 to 1000"])
            .ToList();
        if (wrong.Count > 0)
        {
            await ErrorAsync(context, 400, "INVALID_ARGUMENT", Violation("entries:list: " + string.Join("; ", wrong)));
            return;
        }

        var entries = new JsonArray();
        try
        {
            foreach (var entry in _jobs.Values.SelectMany(j => j.Entries()))
            {
                var fields = new Dictionary<string, string>
                {
                    ["resource.type"] = (string)entry["resource"]!["type"]!,
                    ["resource.labels.job_id"] = (string)entry["resource"]!["labels"]!["job_id"]!,
                    ["timestamp"] = (string)entry["timestamp"]!,
                };
                if (ListFilter.Matches((string?)body["filter"] ?? "", fields))
                {
                    entries.Add(entry);
                }
            }
        }
        catch (FormatException ex)
        {
            await ErrorAsync(context, 400, "INVALID_ARGUMENT", Violation($"entries:list filter: {ex.Message}"));
            return;
        }

        await context.Response.WriteAsJsonAsync(new JsonObject { ["entries"] = entries });
    }

    private async Task ReplyAsync(HttpContext context, JsonObject job)
    {
        Check(job);
        await context.Response.WriteAsJsonAsync(job);
    }

    private static void Check(JsonObject job)
    {
        if (VertexProtoModel.Instance.Validate(job, VertexProtoModel.CustomJob, "customJob", VertexValidation.Request with { AllowOutputOnly = true }) is { Count: > 0 } wrong)
        {
            throw new InvalidOperationException("the stand-in's own CustomJob breaks the protos: " + string.Join("; ", wrong.Select(p => $"{p.Field}: {p.Message}")));
        }
    }

    private static async Task OAuthErrorAsync(HttpContext context, string error, string description)
    {
        context.Response.StatusCode = 400;
        await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = error, ["error_description"] = description });
    }

    private static async Task ErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = new JsonObject { ["code"] = status, ["message"] = message, ["status"] = code } });
    }

    /// <summary>One custom job and its simulated worker pool 0, replica 0.</summary>
    internal sealed class CustomJob(string name, string id, JsonObject request)
    {
        private readonly Lock _lock = new();
        private readonly List<JsonObject> _entries = [];
        private readonly DateTimeOffset _created = DateTimeOffset.UtcNow;
        private ContainerProcess? _container;
        private DateTimeOffset _updated = DateTimeOffset.UtcNow;
        private DateTimeOffset? _started;
        private DateTimeOffset? _ended;
        private JsonObject? _error;

        public string Name { get; } = name;

        public JsonObject Request { get; } = request;

        public string State { get; private set; } = "JOB_STATE_PENDING";

        public List<string> History { get; } = ["JOB_STATE_PENDING"];

        public void Run()
        {
            var container = Request["jobSpec"]!["workerPoolSpecs"]![0]!["containerSpec"]!.AsObject();
            var command = (container["command"]?.AsArray() ?? []).Concat(container["args"]?.AsArray() ?? []).Select(n => (string)n!).ToList();
            var environment = (container["env"]?.AsArray() ?? []).ToDictionary(e => (string)e!["name"]!, e => (string)e!["value"]!, StringComparer.Ordinal);
            lock (_lock)
            {
                Move("JOB_STATE_RUNNING");
                _started = DateTimeOffset.UtcNow;
                _container = ContainerProcess.Start(command, environment, Append);
            }

            _ = _container.Exited.ContinueWith(exited => Exit(exited.Result), TaskScheduler.Default);
        }

        public bool Cancel()
        {
            lock (_lock)
            {
                if (State is not ("JOB_STATE_PENDING" or "JOB_STATE_RUNNING"))
                {
                    return State == "JOB_STATE_CANCELLING";
                }

                Move("JOB_STATE_CANCELLING");
                _container?.Terminate();
                _ = Task.Delay(TimeSpan.FromSeconds(2)).ContinueWith(_ => Kill(), TaskScheduler.Default);
                return true;
            }
        }

        public void Kill() => _container?.Kill();

        public List<JsonObject> Entries()
        {
            lock (_lock)
            {
                return [.. _entries.Select(e => (JsonObject)e.DeepClone())];
            }
        }

        public Dictionary<string, string> FilterFields()
        {
            lock (_lock)
            {
                var fields = (Request["labels"]?.AsObject() ?? []).ToDictionary(l => $"labels.{l.Key}", l => (string)l.Value!);
                fields["state"] = State;
                fields["update_time"] = Timestamp(_updated);
                fields["create_time"] = Timestamp(_created);
                return fields;
            }
        }

        public JsonObject ToJson()
        {
            lock (_lock)
            {
                var job = (JsonObject)Request.DeepClone();
                job["name"] = Name;
                job["state"] = State;
                job["createTime"] = Timestamp(_created);
                job["updateTime"] = Timestamp(_updated);
                if (_started is { } started)
                {
                    job["startTime"] = Timestamp(started);
                }

                if (_ended is { } ended)
                {
                    job["endTime"] = Timestamp(ended);
                }

                if (_error is not null)
                {
                    job["error"] = _error.DeepClone();
                }

                return job;
            }
        }

        private static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

        private void Append(string line)
        {
            lock (_lock)
            {
                _entries.Add(new JsonObject
                {
                    ["logName"] = $"projects/{Project}/logs/workerpool0-0",
                    ["resource"] = new JsonObject
                    {
                        ["type"] = "ml_job",
                        ["labels"] = new JsonObject { ["job_id"] = id, ["project_id"] = Project, ["task_name"] = "workerpool0-0" },
                    },
                    ["textPayload"] = line,
                    ["timestamp"] = Timestamp(DateTimeOffset.UtcNow),
                    ["insertId"] = $"{id}-{_entries.Count}",
                    ["severity"] = "INFO",
                });
            }
        }

        private void Exit(int code)
        {
            lock (_lock)
            {
                _ended = DateTimeOffset.UtcNow;
                if (State == "JOB_STATE_CANCELLING")
                {
                    _error = new JsonObject { ["code"] = 1, ["message"] = "CANCELED" };
                    Move("JOB_STATE_CANCELLED");
                }
                else if (code == 0)
                {
                    Move("JOB_STATE_SUCCEEDED");
                }
                else
                {
                    _error = new JsonObject { ["code"] = 3, ["message"] = $"The replica workerpool0-0 exited with a non-zero status of {code}." };
                    Move("JOB_STATE_FAILED");
                }
            }
        }

        private void Move(string state)
        {
            State = state;
            _updated = DateTimeOffset.UtcNow;
            History.Add(state);
        }
    }
}
