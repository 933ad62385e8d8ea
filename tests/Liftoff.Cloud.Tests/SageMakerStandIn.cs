using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Liftoff.Targets.SageMaker;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Liftoff.Cloud.Tests;

/// <summary>
/// SageMaker and CloudWatch Logs on 127.0.0.1 (<c>/sagemaker/</c>, <c>/logs/</c>). Every request's signature is checked by
/// <see cref="SigV4Verifier"/>, its target and body against the service model from aws-sdk (the same contract data the
/// enqueue checks use), and every reply against the operation's output shape. A training job runs its container command
/// as a local process: InProgress (Starting → Downloading → Training) → Completed, or Failed with a FailureReason when
/// the command exits non-zero, or Stopping → Stopped on StopTrainingJob; its output lines are the events of log stream
/// <c>{job}/algo-1-{epoch}</c> in <c>/aws/sagemaker/TrainingJobs</c>.
/// </summary>
internal sealed class SageMakerStandIn : StandInHost
{
    public const string Region = "eu-west-1";
    public const string AccessKey = "AKIALIFTOFFSTANDIN01";
    public const string SecretKey = "standin/secret+key/for/signing/tests/only0";
    public const string SessionToken = "standin-session-token";
    private const string Account = "123456789012";

    private readonly ConcurrentDictionary<string, TrainingJob> _jobs = new(StringComparer.Ordinal);

    public Uri SageMakerEndpoint => new(BaseUrl, "sagemaker/");

    public Uri LogsEndpoint => new(BaseUrl, "logs/");

    public IReadOnlyDictionary<string, TrainingJob> Jobs => _jobs;

    public static async Task<SageMakerStandIn> StartNewAsync()
    {
        var standIn = new SageMakerStandIn();
        await standIn.StartAsync();
        return standIn;
    }

    /// <summary>The environment an agent process needs to reach this stand-in with the standard AWS credential chain.</summary>
    public static Dictionary<string, string?> CredentialsEnvironment() => new()
    {
        ["AWS_ACCESS_KEY_ID"] = AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
        ["AWS_SESSION_TOKEN"] = SessionToken,
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };

    public string AgentConfig(string name, string queue) => $"""
        name: {name}
        queues: [{queue}]
        heartbeat_seconds: 0.3
        stop_grace_seconds: 2
        environment:
          type: aws
          region: {Region}
          sagemaker_endpoint: {SageMakerEndpoint}
          logs_endpoint: {LogsEndpoint}
          poll_seconds: 0.2
        """;

    protected override void Map(WebApplication app)
    {
        app.MapPost("/sagemaker/", context => HandleAsync(context, AwsServiceModel.SageMaker, "sagemaker"));
        app.MapPost("/logs/", context => HandleAsync(context, AwsServiceModel.CloudWatchLogs, "logs"));
    }

    private async Task HandleAsync(HttpContext context, AwsServiceModel model, string service)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var target = context.Request.Headers["X-Amz-Target"].ToString();
        Requests.Enqueue($"POST {context.Request.Path} {target}");

        if (SigV4Verifier.Verify(context.Request, body, AccessKey, SecretKey, SessionToken, Region, model.SigningName, DateTimeOffset.UtcNow) is { } bad)
        {
            await ErrorAsync(context, 403, "InvalidSignatureException", Violation($"{target}: {bad}"));
            return;
        }

        var contentType = context.Request.ContentType;
        if (contentType != $"application/x-amz-json-{model.JsonVersion}")
        {
            await ErrorAsync(context, 400, "SerializationException", Violation($"{target}: Content-Type '{contentType}', expected application/x-amz-json-{model.JsonVersion}"));
            return;
        }

        var prefix = model.TargetPrefix + ".";
        var operation = target.StartsWith(prefix, StringComparison.Ordinal) ? target[prefix.Length..] : "";
        if (!model.Operations.Contains(operation))
        {
            await ErrorAsync(context, 400, "UnknownOperationException", Violation($"'{target}' is not an operation of {model.TargetPrefix} that Liftoff may call"));
            return;
        }

        JsonObject input;
        try
        {
            input = JsonNode.Parse(body)!.AsObject();
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            await ErrorAsync(context, 400, "SerializationException", Violation($"{target}: the body is not a JSON object: {ex.Message}"));
            return;
        }

        var problems = model.Validate(input, model.InputShape(operation), operation, AwsValidation.Request);
        if (problems.Count > 0)
        {
            await ErrorAsync(context, 400, "ValidationException", Violation($"{target}: " + string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}"))));
            return;
        }

        var (status, output) = service == "logs" ? Logs(operation, input) : SageMaker(operation, input);
        if (status != 200)
        {
            await ErrorAsync(context, status, (string)output["__type"]!, (string)output["message"]!);
            return;
        }

        if (model.OutputShape(operation) is { } shape && model.Validate(output, shape, operation + "Output", AwsValidation.Request) is { Count: > 0 } wrong)
        {
            throw new InvalidOperationException("the stand-in's own reply breaks the model: " + string.Join("; ", wrong.Select(p => $"{p.Field}: {p.Message}")));
        }

        context.Response.ContentType = $"application/x-amz-json-{model.JsonVersion}";
        await context.Response.WriteAsync(output.ToJsonString());
    }

    /// <summary>CreateTrainingJob's documented map limits (entries, key and value lengths), which the minified model does not carry.</summary>
    private static string? MapLimitBroken(JsonObject? map, string member, int entries, int keyLength, int valueLength)
    {
        if (map is null)
        {
            return null;
        }

        if (map.Count > entries)
        {
            return $"1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have at most {entries} entries (it has {map.Count})";
        }

        foreach (var (key, value) in map)
        {
            var text = (string?)value ?? "";
            if (key.Length > keyLength || text.Length > valueLength)
            {
                return $"1 validation error detected: Value at '{member}' failed to satisfy constraint: Map key must have length less than or equal to {keyLength}, Map value must have length less than or equal to {valueLength} ('{key}': {text.Length} characters)";
            }
        }

        return null;
    }

    private (int Status, JsonObject Output) SageMaker(string operation, JsonObject input)
    {
        switch (operation)
        {
            case "CreateTrainingJob":
                var name = (string)input["TrainingJobName"]!;
                // The documented TrainingJobName rule, which the minified model does not carry.
                if (name.Length > 63 || !System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"))
                {
                    return Error(400, "ValidationException", Violation($"TrainingJobName '{name}' breaks ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}"));
                }

                if ((MapLimitBroken(input["Environment"] as JsonObject, "Environment", 100, 512, 512) ?? MapLimitBroken(input["HyperParameters"] as JsonObject, "HyperParameters", 100, 256, 2500)) is { } broken)
                {
                    return Error(400, "ValidationException", Violation(broken));
                }

                var job = new TrainingJob(name, $"arn:aws:sagemaker:{Region}:{Account}:training-job/{name.ToLowerInvariant()}", input);
                if (!_jobs.TryAdd(name, job))
                {
                    return Error(400, "ResourceInUse", $"Training job names must be unique within an AWS account and region, and a training job with this name already exists ({job.Arn})");
                }

                job.Run();
                return (200, new JsonObject { ["TrainingJobArn"] = job.Arn });
            case "DescribeTrainingJob":
                return _jobs.TryGetValue((string)input["TrainingJobName"]!, out var described)
                    ? (200, described.Describe())
                    : Error(400, "ResourceNotFound", $"Requested resource not found: training job {(string)input["TrainingJobName"]!}");
            case "StopTrainingJob":
                if (!_jobs.TryGetValue((string)input["TrainingJobName"]!, out var stopping))
                {
                    return Error(400, "ResourceNotFound", $"Requested resource not found: training job {(string)input["TrainingJobName"]!}");
                }

                return stopping.Stop() ? (200, []) : Error(400, "ValidationException", $"The request was rejected because the training job is in status {stopping.Status}.");
            case "ListTrainingJobs":
                var matching = _jobs.Values.Where(j =>
                    (input["NameContains"] is not { } contains || j.Name.Contains((string)contains!, StringComparison.Ordinal))
                    && (input["StatusEquals"] is not { } equals || j.Status == (string)equals!)
                    && (input["LastModifiedTimeAfter"] is not { } after || j.LastModified.ToUnixTimeSeconds() > (double)after!));
                return (200, new JsonObject { ["TrainingJobSummaries"] = new JsonArray([.. matching.Select(j => (JsonNode)j.Summary())]) });
            case "ListTags":
                var tagged = _jobs.Values.FirstOrDefault(j => j.Arn == (string)input["ResourceArn"]!);
                return tagged is null
                    ? Error(400, "ResourceNotFound", "Requested resource not found")
                    : (200, new JsonObject { ["Tags"] = tagged.Request["Tags"]?.DeepClone() ?? new JsonArray() });
            default:
                return Error(400, "UnknownOperationException", operation);
        }
    }

    private (int Status, JsonObject Output) Logs(string operation, JsonObject input)
    {
        if ((string?)input["logGroupName"] != "/aws/sagemaker/TrainingJobs" || _jobs.IsEmpty)
        {
            return Error(400, "ResourceNotFoundException", "The specified log group does not exist.");
        }

        switch (operation)
        {
            case "DescribeLogStreams":
                var prefix = (string?)input["logStreamNamePrefix"] ?? "";
                var streams = _jobs.Values.Where(j => j.HasLogs && j.StreamName.StartsWith(prefix, StringComparison.Ordinal))
                    .Select(j => (JsonNode)new JsonObject { ["logStreamName"] = j.StreamName, ["creationTime"] = j.Created.ToUnixTimeMilliseconds() });
                return (200, new JsonObject { ["logStreams"] = new JsonArray([.. streams]) });
            case "GetLogEvents":
                var job = _jobs.Values.FirstOrDefault(j => j.StreamName == (string)input["logStreamName"]!);
                if (job is null)
                {
                    return Error(400, "ResourceNotFoundException", "The specified log stream does not exist.");
                }

                var from = input["nextToken"] is { } token ? int.Parse(((string)token!)[2..], CultureInfo.InvariantCulture) : 0;
                var lines = job.LogLines(from);
                return (200, new JsonObject
                {
                    ["events"] = new JsonArray([.. lines.Select(l => (JsonNode)new JsonObject { ["timestamp"] = l.Time, ["message"] = l.Text, ["ingestionTime"] = l.Time })]),
                    ["nextForwardToken"] = $"f/{from + lines.Count:D20}",
                    ["nextBackwardToken"] = $"b/{from:D20}",
                });
            default:
                return Error(400, "UnknownOperationException", operation);
        }
    }

    private static (int, JsonObject) Error(int status, string type, string message) => (status, new JsonObject { ["__type"] = type, ["message"] = message });

    private static async Task ErrorAsync(HttpContext context, int status, string type, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/x-amz-json-1.1";
        await context.Response.WriteAsync(new JsonObject { ["__type"] = type, ["message"] = message }.ToJsonString());
    }

    public override string Dump() => base.Dump() + "\njobs:\n  " + string.Join("\n  ", _jobs.Values.Select(j =>
        $"{j.Name}: {string.Join(" > ", j.History)}\n    " + string.Join("\n    ", j.LogLines(0).Select(l => l.Text))));

    public override async ValueTask DisposeAsync()
    {
        foreach (var job in _jobs.Values)
        {
            job.Kill();
        }

        await base.DisposeAsync();
    }

    /// <summary>One training job and its simulated container.</summary>
    internal sealed class TrainingJob(string name, string arn, JsonObject request)
    {
        private readonly Lock _lock = new();
        private readonly List<(long Time, string Text)> _log = [];
        private ContainerProcess? _container;
        private string _secondary = "Starting";
        private string? _failureReason;
        private DateTimeOffset? _ended;

        public string Name { get; } = name;

        public string Arn { get; } = arn;

        public JsonObject Request { get; } = request;

        public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;

        public DateTimeOffset LastModified { get; private set; } = DateTimeOffset.UtcNow;

        public string Status { get; private set; } = "InProgress";

        public string StreamName => $"{Name}/algo-1-{Created.ToUnixTimeSeconds()}";

        public bool HasLogs
        {
            get
            {
                lock (_lock)
                {
                    return _log.Count > 0;
                }
            }
        }

        /// <summary>Every status the job has passed through, in order.</summary>
        public List<string> History { get; } = ["InProgress/Starting"];

        public void Run()
        {
            var algorithm = Request["AlgorithmSpecification"]!.AsObject();
            var command = (algorithm["ContainerEntrypoint"]?.AsArray() ?? []).Select(n => (string)n!)
                .Concat((algorithm["ContainerArguments"]?.AsArray() ?? []).Select(n => (string)n!)).ToList();
            var environment = (Request["Environment"]?.AsObject() ?? []).ToDictionary(e => e.Key, e => (string)e.Value!, StringComparer.Ordinal);
            lock (_lock)
            {
                Move("InProgress", "Downloading");
                Move("InProgress", "Training");
                _container = ContainerProcess.Start(command, environment, Append);
            }

            _ = _container.Exited.ContinueWith(exited => Exit(exited.Result), TaskScheduler.Default);
        }

        public bool Stop()
        {
            lock (_lock)
            {
                if (Status != "InProgress")
                {
                    return Status == "Stopping";
                }

                Move("Stopping", "Stopping");
                _container?.Terminate();
                // SageMaker follows SIGTERM with SIGKILL after 120 s; the stand-in is quicker.
                _ = Task.Delay(TimeSpan.FromSeconds(2)).ContinueWith(_ => Kill(), TaskScheduler.Default);
                return true;
            }
        }

        public void Kill() => _container?.Kill();

        public List<(long Time, string Text)> LogLines(int from)
        {
            lock (_lock)
            {
                return from >= _log.Count ? [] : _log[from..];
            }
        }

        public JsonObject Describe()
        {
            lock (_lock)
            {
                var reply = new JsonObject
                {
                    ["TrainingJobName"] = Name,
                    ["TrainingJobArn"] = Arn,
                    ["ModelArtifacts"] = new JsonObject { ["S3ModelArtifacts"] = $"{(string?)Request["OutputDataConfig"]?["S3OutputPath"]}/{Name}/output/model.tar.gz" },
                    ["TrainingJobStatus"] = Status,
                    ["SecondaryStatus"] = _secondary,
                    ["AlgorithmSpecification"] = Request["AlgorithmSpecification"]!.DeepClone(),
                    ["RoleArn"] = Request["RoleArn"]!.DeepClone(),
                    ["ResourceConfig"] = Request["ResourceConfig"]!.DeepClone(),
                    ["StoppingCondition"] = Request["StoppingCondition"]!.DeepClone(),
                    ["OutputDataConfig"] = Request["OutputDataConfig"]!.DeepClone(),
                    ["Environment"] = Request["Environment"]?.DeepClone(),
                    ["HyperParameters"] = Request["HyperParameters"]?.DeepClone(),
                    ["CreationTime"] = Created.ToUnixTimeSeconds(),
                    ["LastModifiedTime"] = LastModified.ToUnixTimeSeconds(),
                };
                foreach (var key in reply.Where(p => p.Value is null).Select(p => p.Key).ToList())
                {
                    reply.Remove(key);
                }

                if (_failureReason is not null)
                {
                    reply["FailureReason"] = _failureReason;
                }

                if (_ended is { } ended)
                {
                    reply["TrainingEndTime"] = ended.ToUnixTimeSeconds();
                }

                return reply;
            }
        }

        public JsonObject Summary()
        {
            lock (_lock)
            {
                return new JsonObject
                {
                    ["TrainingJobName"] = Name,
                    ["TrainingJobArn"] = Arn,
                    ["CreationTime"] = Created.ToUnixTimeSeconds(),
                    ["LastModifiedTime"] = LastModified.ToUnixTimeSeconds(),
                    ["TrainingJobStatus"] = Status,
                };
            }
        }

        private void Append(string line)
        {
            lock (_lock)
            {
                _log.Add((DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), line));
            }
        }

        private void Exit(int code)
        {
            lock (_lock)
            {
                _ended = DateTimeOffset.UtcNow;
                if (Status == "Stopping")
                {
                    Move("Stopped", "Stopped");
                }
                else if (code == 0)
                {
                    Move("Completed", "Completed");
                }
                else
                {
                    _failureReason = $"AlgorithmError: the training container exited with code {code}";
                    Move("Failed", "Failed");
                }
            }
        }

        private void Move(string status, string secondary)
        {
            Status = status;
            _secondary = secondary;
            LastModified = DateTimeOffset.UtcNow;
            History.Add($"{status}/{secondary}");
        }
    }
}
