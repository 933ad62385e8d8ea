using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Liftoff.Core;
using Liftoff.Targets.Kubernetes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Testing.Kubernetes;

/// <summary>What the stand-in does with a pod whose main container runs <see cref="Scenario"/>'s image.</summary>
public enum PodScenario
{
    /// <summary>Runs the container's command as a local process with the container's environment (Secrets resolved).</summary>
    Run,
    Unschedulable,
    ErrImagePull,
    ImagePullBackOff,
    OomKilled,
    Evicted,
}

/// <summary>
/// A stand-in for the Kubernetes API server on 127.0.0.1, for the runner's whole life cycle: create/get/list
/// (labelSelector)/delete (propagationPolicy) of Jobs and Secrets, list of Pods, and pod logs (follow, sinceSeconds).
/// Every object created is checked against the Kubernetes OpenAPI schemas by the npm package kubernetes-models (in a
/// node process) and against the definitions the enqueue check uses (KubernetesClient's models, for unknown fields and
/// types), and against the API server's name and label rules, and refused with a 422 Status as a real API server does.
/// Pod Security admission enforces <see cref="PodSecurity"/> (restricted unless a test lowers it) on a Job's pod: a pod
/// that breaks it is refused with 403 (<see cref="PodRefusals"/>), and the Job is created with a warning. A Job's pod goes pending → running → succeeded/failed:
/// its command runs as a local process with the pod's environment (Secrets resolved through secretKeyRef/envFrom, a
/// missing one is CreateContainerConfigError), or follows a <see cref="PodScenario"/> chosen by image.
/// </summary>
public sealed class KubernetesStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, JsonObject> _jobs = new();
    private readonly ConcurrentDictionary<string, JsonObject> _secrets = new();
    private readonly ConcurrentDictionary<string, Pod> _pods = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly Lock _lock = new();
    private readonly KubernetesModels _models;
    private readonly ConcurrentQueue<string> _secretValues = new();
    private readonly ConcurrentQueue<JsonObject> _podRefusals = new();
    private int _unavailableReads;
    private TaskCompletionSource _change = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private KubernetesStandIn(WebApplication app, KubernetesModels models)
    {
        _app = app;
        _models = models;
    }

    public string Url { get; private set; } = "";

    /// <summary>Images that do not run but follow a scenario (all others run).</summary>
    public ConcurrentDictionary<string, PodScenario> Scenarios { get; } = new();

    /// <summary>
    /// When set, pods run their image on this Docker engine (<c>docker run --network host</c>), as a kubelet would, instead
    /// of running the container's command as a local process.
    /// </summary>
    public string? DockerHost { get; set; }

    /// <summary>Added to every pod's environment: what the image would provide (e.g. the SDK on PYTHONPATH).</summary>
    public ConcurrentDictionary<string, string> ImageEnvironment { get; } = new();

    /// <summary>Answers the next <paramref name="count"/> reads (GET, except logs) with 503, as an API server restarting does.</summary>
    public void FailReads(int count) => Volatile.Write(ref _unavailableReads, count);

    /// <summary>Every request as "METHOD path?query", in order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>The stored Jobs (as the runner sent them, plus metadata and status), by name.</summary>
    public IReadOnlyDictionary<string, JsonObject> Jobs => _jobs.ToDictionary(j => j.Key[(j.Key.IndexOf('/', StringComparison.Ordinal) + 1)..], j => (JsonObject)j.Value.DeepClone());

    public IReadOnlyCollection<string> SecretNames => [.. _secrets.Keys];

    /// <summary>
    /// The level of the namespaces' <c>pod-security.kubernetes.io/enforce</c> label: restricted, as a careful operator sets
    /// it; a test where the queue grants a field lowers it, as that operator would for that namespace.
    /// </summary>
    public PodSecurityLevel PodSecurity { get; set; } = PodSecurityLevel.Restricted;

    /// <summary>
    /// The pods the Job controller could not create because Pod Security admission refused them: the 403 Status of each,
    /// as its <c>FailedCreate</c> event on the Job quotes it. Such a Job stays, without a pod.
    /// </summary>
    public IReadOnlyList<JsonObject> PodRefusals => [.. _podRefusals.Select(r => (JsonObject)r.DeepClone())];

    /// <summary>Every value any Secret was created with (stringData), to check it appears nowhere else.</summary>
    public IReadOnlyCollection<string> SecretValues => [.. _secretValues];

    public static async Task<KubernetesStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var standIn = new KubernetesStandIn(app, KubernetesModels.Start());
        standIn.Map(app);
        await app.StartAsync();
        standIn.Url = app.Urls.First();
        return standIn;
    }

    /// <summary>A kubeconfig whose current context points at the stand-in, in namespace <paramref name="ns"/>.</summary>
    public string WriteKubeconfig(string directory, string ns = "ml")
    {
        var path = Path.Combine(directory, "kubeconfig");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: stand-in
              cluster:
                server: {Url}
            users:
            - name: tester
              user:
                token: stand-in-token
            contexts:
            - name: stand-in
              context:
                cluster: stand-in
                user: tester
                namespace: {ns}
            current-context: stand-in
            """);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pod in _pods.Values)
        {
            pod.Kill();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
        await _models.DisposeAsync();
    }

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            _requests.Enqueue($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}");
            if (context.Request.Method == "GET" && !context.Request.Path.Value!.EndsWith("/log", StringComparison.Ordinal) && Interlocked.Decrement(ref _unavailableReads) >= 0)
            {
                context.Response.StatusCode = 503;
                await context.Response.WriteAsync(StatusBody(503, "ServiceUnavailable", "the server is currently unable to handle the request").ToJsonString());
                return;
            }

            await next(context);
        });
        app.MapPost("/api/v1/namespaces/{ns}/secrets", (string ns, HttpContext http) => CreateAsync(http, ns, "Secret", "", OpenApiDefinitions.Secret, _secrets));
        app.MapGet("/api/v1/namespaces/{ns}/secrets/{name}", (string ns, string name) => Get(_secrets, ns, name, "secrets", ""));
        app.MapDelete("/api/v1/namespaces/{ns}/secrets/{name}", (string ns, string name) => DeleteSecret(ns, name));
        app.MapPost("/apis/batch/v1/namespaces/{ns}/jobs", (string ns, HttpContext http) => CreateAsync(http, ns, "Job", "batch", OpenApiDefinitions.Job, _jobs));
        app.MapGet("/apis/batch/v1/namespaces/{ns}/jobs", (string ns, string? labelSelector, string? fieldSelector, bool? watch, int? timeoutSeconds, HttpContext http) =>
            ListOrWatchAsync(http, "JobList", "batch/v1", () => _jobs.Where(j => j.Key.StartsWith(ns + "/", StringComparison.Ordinal)).Select(j => (JsonObject)j.Value.DeepClone()), labelSelector, fieldSelector, watch == true, timeoutSeconds));
        app.MapGet("/apis/batch/v1/namespaces/{ns}/jobs/{name}", (string ns, string name) => Get(_jobs, ns, name, "jobs", "batch"));
        app.MapDelete("/apis/batch/v1/namespaces/{ns}/jobs/{name}", (string ns, string name, string? propagationPolicy, int? gracePeriodSeconds) => DeleteJob(ns, name, propagationPolicy));
        app.MapGet("/api/v1/namespaces/{ns}/pods", (string ns, string? labelSelector, string? fieldSelector, bool? watch, int? timeoutSeconds, HttpContext http) =>
            ListOrWatchAsync(http, "PodList", "v1", () => _pods.Where(p => p.Key.StartsWith(ns + "/", StringComparison.Ordinal)).Select(p => p.Value.Snapshot()), labelSelector, fieldSelector, watch == true, timeoutSeconds));
        app.MapGet("/api/v1/namespaces/{ns}/pods/{name}/log", (string ns, string name, string? container, bool? follow, int? sinceSeconds, HttpContext http) => LogAsync(http, ns, name, follow == true, sinceSeconds));
    }

    private async Task<IResult> CreateAsync(HttpContext http, string ns, string kind, string group, Type definition, ConcurrentDictionary<string, JsonObject> store)
    {
        var body = await JsonNode.ParseAsync(http.Request.Body) as JsonObject;
        if (body is null)
        {
            return Status(400, "BadRequest", "the body is not a JSON object");
        }

        var name = body["metadata"]?["name"]?.GetValue<string>() ?? "";
        // The definitions the enqueue check uses (KubernetesClient's models, OpenApiDefinitions.Version): types, and the unknown
        // fields a server with fieldValidation=Strict refuses. kubernetes-models (an independent build of an OpenAPI
        // schema one release older) adds what those models do not carry: required strings and objects, enums, formats.
        var errors = OpenApiDefinitions.Kubernetes.Check(definition, body, "").Select(e => e with { Field = e.Field.TrimStart('.') }).ToList();
        var found = errors.Select(e => e.Field).ToHashSet(StringComparer.Ordinal);
        errors.AddRange((await _models.CheckAsync(kind, body)).Where(e => !found.Contains(e.Field)));
        errors.AddRange(ApiServerRules(body, kind));
        if (errors.Count > 0)
        {
            return Invalid(kind, group, name, errors);
        }

        if (body["metadata"]?["namespace"]?.GetValue<string>() is { } bodyNs && bodyNs != ns)
        {
            return Status(400, "BadRequest", $"the namespace of the provided object ({bodyNs}) does not match the namespace sent on the request ({ns})");
        }

        var metadata = body["metadata"]!.AsObject();
        metadata["namespace"] = ns;
        metadata["uid"] = Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = Now();
        metadata["resourceVersion"] = "1";
        foreach (var (_, value) in body["stringData"] as JsonObject ?? [])
        {
            _secretValues.Enqueue(value!.GetValue<string>());
        }

        if (kind == "Secret" && body["stringData"] is JsonObject stringData)
        {
            var data = body["data"] as JsonObject ?? [];
            foreach (var (key, value) in stringData)
            {
                data[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value!.GetValue<string>()));
            }

            body.Remove("stringData");
            body["data"] = data;
        }

        if (!store.TryAdd($"{ns}/{name}", body))
        {
            return Status(409, "AlreadyExists", $"{Resource(kind, group)} \"{name}\" already exists");
        }

        if (kind == "Job")
        {
            body["status"] = new JsonObject();
            var template = body["spec"]!["template"]!;
            var forbidden = PodSecurityAdmission.Evaluate(PodSecurity, template["metadata"] as JsonObject, template["spec"]!.AsObject());
            if (forbidden.Count > 0)
            {
                // Admission enforces on pods; on a Job (a pod template) it only warns, and the Job controller's pods are refused.
                var policy = $"PodSecurity \"{PodSecurity.ToString().ToLowerInvariant()}:latest\": {string.Join(", ", forbidden)}";
                http.Response.Headers.Append("Warning", $"299 - \"would violate {policy.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
                _podRefusals.Enqueue(StatusBody(403, "Forbidden", $"pods \"{name}-{Guid.NewGuid().ToString("N")[..5]}\" is forbidden: violates {policy}"));
            }
            else
            {
                StartPod(ns, name, body);
            }
        }

        Notify();

        return Results.Text(body.ToJsonString(), "application/json", statusCode: 201);
    }

    /// <summary>What the API server checks beyond the OpenAPI schema (ValidateObjectMeta, ValidateJob): names, labels, the pod's restart policy.</summary>
    private static IEnumerable<FieldError> ApiServerRules(JsonObject body, string kind)
    {
        var name = body["metadata"]?["name"]?.GetValue<string>();
        if (name is null || !IsDnsSubdomain(name) || (kind == "Job" && name.Length > 63))
        {
            yield return new FieldError("metadata.name", $"Invalid value: \"{name}\": a lowercase RFC 1123 subdomain (at most 63 characters for a Job)");
        }

        foreach (var labels in new[] { ("metadata.labels", body["metadata"]?["labels"]), ("spec.template.metadata.labels", body["spec"]?["template"]?["metadata"]?["labels"]) })
        {
            foreach (var (key, value) in labels.Item2 as JsonObject ?? [])
            {
                var text = value?.GetValue<string>() ?? "";
                if (text.Length > 63 || (text.Length > 0 && !(char.IsAsciiLetterOrDigit(text[0]) && char.IsAsciiLetterOrDigit(text[^1]) && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))))
                {
                    yield return new FieldError($"{labels.Item1}.{key}", $"Invalid value: \"{text}\": a valid label must be 63 characters or less and consist of alphanumerics, '-', '_' or '.'");
                }
            }
        }

        // ValidateSecret: each key of data and stringData is at most 253 characters of alphanumerics, '-', '_' or '.'.
        foreach (var member in new[] { "data", "stringData" })
        {
            foreach (var (key, _) in kind == "Secret" ? body[member] as JsonObject ?? [] : [])
            {
                if (key.Length is 0 or > 253 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || key is "." or "..")
                {
                    yield return new FieldError($"{member}[{key}]", $"Invalid value: \"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'");
                }
            }
        }

        if (kind == "Job")
        {
            var pod = body["spec"]?["template"]?["spec"];
            if (pod?["restartPolicy"]?.GetValue<string>() is not ("Never" or "OnFailure"))
            {
                yield return new FieldError("spec.template.spec.restartPolicy", "Unsupported value: supported values: \"OnFailure\", \"Never\"");
            }

            var containers = pod?["containers"] as JsonArray ?? [];
            for (var i = 0; i < containers.Count; i++)
            {
                if (containers[i]?["name"]?.GetValue<string>() is not { } container || !IsDnsLabel(container))
                {
                    yield return new FieldError($"spec.template.spec.containers[{i}].name", "Invalid value: a lowercase RFC 1123 label");
                }

                if (containers[i]?["image"] is null)
                {
                    yield return new FieldError($"spec.template.spec.containers[{i}].image", "Required value");
                }
            }
        }
    }

    private IResult Get(ConcurrentDictionary<string, JsonObject> store, string ns, string name, string plural, string group)
    {
        lock (_lock)
        {
            return store.TryGetValue($"{ns}/{name}", out var found)
                ? Results.Text(found.ToJsonString(), "application/json")
                : Status(404, "NotFound", $"{plural}{(group.Length > 0 ? "." + group : "")} \"{name}\" not found");
        }
    }

    private IResult DeleteSecret(string ns, string name) =>
        _secrets.TryRemove($"{ns}/{name}", out _)
            ? Results.Text(new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Success" }.ToJsonString(), "application/json")
            : Status(404, "NotFound", $"secrets \"{name}\" not found");

    /// <summary>Without a propagation policy, deleting a Job through the API orphans its pods (they keep running), as on a real cluster.</summary>
    private IResult DeleteJob(string ns, string name, string? propagationPolicy)
    {
        if (!_jobs.TryRemove($"{ns}/{name}", out var job))
        {
            return Status(404, "NotFound", $"jobs.batch \"{name}\" not found");
        }

        if (propagationPolicy is "Foreground" or "Background" && _pods.TryRemove($"{ns}/{name}", out var pod))
        {
            pod.Kill();
        }

        Notify();

        return Results.Text(job.ToJsonString(), "application/json");
    }

    /// <summary>
    /// A list, or with <c>watch=true</c> a watch stream: one JSON event per line (ADDED for what matches now, then ADDED,
    /// MODIFIED and DELETED as objects change), until <c>timeoutSeconds</c> or the client leaves.
    /// </summary>
    private async Task<IResult> ListOrWatchAsync(HttpContext http, string kind, string apiVersion, Func<IEnumerable<JsonObject>> items, string? labelSelector, string? fieldSelector, bool watch, int? timeoutSeconds)
    {
        if (!watch)
        {
            JsonObject[] matching;
            lock (_lock)
            {
                matching = [.. Matching(items(), labelSelector, fieldSelector)];
            }

            var list = new JsonObject { ["kind"] = kind, ["apiVersion"] = apiVersion, ["metadata"] = new JsonObject { ["resourceVersion"] = "1" }, ["items"] = new JsonArray([.. matching]) };
            return Results.Text(list.ToJsonString(), "application/json");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds ?? 1800));
        http.Response.ContentType = "application/json";
        var sent = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        try
        {
            while (true)
            {
                var next = Volatile.Read(ref _change).Task;
                Dictionary<string, JsonObject> current;
                lock (_lock)
                {
                    current = Matching(items(), labelSelector, fieldSelector).ToDictionary(o => o["metadata"]!["name"]!.GetValue<string>(), StringComparer.Ordinal);
                }

                foreach (var (name, item) in current.Where(c => !sent.TryGetValue(c.Key, out var before) || before.ToJsonString() != c.Value.ToJsonString()))
                {
                    await WriteEventAsync(http, sent.ContainsKey(name) ? "MODIFIED" : "ADDED", item, timeout.Token);
                    sent[name] = item;
                }

                foreach (var name in sent.Keys.Where(n => !current.ContainsKey(n)).ToList())
                {
                    await WriteEventAsync(http, "DELETED", sent[name], timeout.Token);
                    sent.Remove(name);
                }

                await http.Response.Body.FlushAsync(timeout.Token);
                await next.WaitAsync(timeout.Token);
            }
        }
        catch (OperationCanceledException)
        {
            return Results.Empty;
        }
    }

    private static Task WriteEventAsync(HttpContext http, string type, JsonObject item, CancellationToken cancellationToken) =>
        http.Response.WriteAsync(new JsonObject { ["type"] = type, ["object"] = item.DeepClone() }.ToJsonString() + "\n", cancellationToken);

    private static IEnumerable<JsonObject> Matching(IEnumerable<JsonObject> items, string? labelSelector, string? fieldSelector)
    {
        var labels = (labelSelector ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Split('=', 2)).ToList();
        var name = (fieldSelector ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Split('=', 2)).FirstOrDefault(f => f[0] == "metadata.name")?[1];
        return items.Where(o => labels.All(l => o["metadata"]?["labels"]?[l[0]]?.GetValue<string>() == l[1])
            && (name is null || o["metadata"]?["name"]?.GetValue<string>() == name));
    }

    /// <summary>Wakes every open watch: something it may be watching changed.</summary>
    private void Notify() => Interlocked.Exchange(ref _change, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private async Task<IResult> LogAsync(HttpContext http, string ns, string name, bool follow, int? sinceSeconds)
    {
        if (_pods.Values.FirstOrDefault(p => p.Key == $"{ns}/{name}") is not { } pod)
        {
            return Status(404, "NotFound", $"pods \"{name}\" not found");
        }

        var from = sinceSeconds is { } s ? DateTimeOffset.UtcNow.AddSeconds(-s) : DateTimeOffset.MinValue;
        http.Response.ContentType = "text/plain";
        var sent = 0;
        while (true)
        {
            var (lines, ended) = pod.Log(sent);
            foreach (var (at, line) in lines)
            {
                if (at >= from)
                {
                    await http.Response.WriteAsync(line + "\n", http.RequestAborted);
                }
            }

            sent += lines.Count;
            await http.Response.Body.FlushAsync(http.RequestAborted);
            if (!follow || ended)
            {
                return Results.Empty;
            }

            await pod.Changed.WaitAsync(TimeSpan.FromMilliseconds(200), http.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private void StartPod(string ns, string job, JsonObject body)
    {
        var template = body["spec"]!["template"]!;
        var podName = $"{job}-{Guid.NewGuid().ToString("N")[..5]}";
        var labels = (template["metadata"]?["labels"] as JsonObject)?.DeepClone() as JsonObject ?? [];
        labels["job-name"] = job;
        labels["batch.kubernetes.io/job-name"] = job;
        labels["controller-uid"] = body["metadata"]!["uid"]!.GetValue<string>();
        var main = template["spec"]!["containers"]!.AsArray().OfType<JsonObject>().First();
        var pod = new Pod($"{ns}/{podName}", podName, ns, labels, main["name"]!.GetValue<string>(), () => Complete(ns, job), Notify);
        _pods[$"{ns}/{job}"] = pod;
        var image = main["image"]!.GetValue<string>();
        var scenario = Scenarios.TryGetValue(image, out var s) ? s : PodScenario.Run;
        switch (scenario)
        {
            case PodScenario.Unschedulable:
                pod.Unschedulable("0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available.");
                return;
            case PodScenario.ErrImagePull or PodScenario.ImagePullBackOff:
                pod.Waiting(scenario.ToString(), $"Back-off pulling image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found");
                return;
            case PodScenario.OomKilled:
                pod.Terminate(137, "OOMKilled", null);
                return;
            case PodScenario.Evicted:
                pod.Evict("The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.");
                return;
            default:
                break;
        }

        if (Environment(ns, main, out var missing) is not { } environment)
        {
            pod.Waiting("CreateContainerConfigError", missing);
            return;
        }

        var command = main["command"]!.AsArray().Select(a => a!.GetValue<string>()).Concat((main["args"] as JsonArray ?? []).Select(a => a!.GetValue<string>())).ToList();
        if (DockerHost is { } host)
        {
            (command, environment) = InDocker(host, podName, image, command, environment);
        }

        pod.Run(command, environment);
    }

    /// <summary>
    /// The <c>docker run</c> that runs a container as the pod's: the image's own PATH and HOME stay, every other variable
    /// is passed by name (its value reaches the Docker CLI through its environment, never its arguments).
    /// </summary>
    private (List<string> Command, Dictionary<string, string> Environment) InDocker(string host, string podName, string image, List<string> command, Dictionary<string, string> environment)
    {
        var passed = environment.Keys.Where(k => k is not ("PATH" or "HOME") && !ImageEnvironment.ContainsKey(k)).ToList();
        List<string> run = ["docker", "run", "--rm", "--network", "host", "--name", podName, .. passed.SelectMany(k => new[] { "-e", k }), "--entrypoint", command[0], image, .. command.Skip(1)];
        var cli = passed.ToDictionary(k => k, k => environment[k], StringComparer.Ordinal);
        cli["PATH"] = System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        cli["HOME"] = System.Environment.GetEnvironmentVariable("HOME") ?? "/tmp";
        cli["DOCKER_HOST"] = host;
        return (run, cli);
    }

    /// <summary>The container's environment as the kubelet makes it: the image's, then env with secretKeyRef resolved.</summary>
    private Dictionary<string, string>? Environment(string ns, JsonObject container, out string missing)
    {
        missing = "";
        var environment = new Dictionary<string, string>(ImageEnvironment, StringComparer.Ordinal)
        {
            ["PATH"] = System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin",
            ["HOME"] = System.Environment.GetEnvironmentVariable("HOME") ?? "/tmp",
        };
        foreach (var from in container["envFrom"] as JsonArray ?? [])
        {
            if (from?["secretRef"]?["name"]?.GetValue<string>() is { } secretName)
            {
                if (!_secrets.TryGetValue($"{ns}/{secretName}", out var secret))
                {
                    missing = $"secret \"{secretName}\" not found";
                    return null;
                }

                foreach (var (key, value) in secret["data"] as JsonObject ?? [])
                {
                    environment[key] = Encoding.UTF8.GetString(Convert.FromBase64String(value!.GetValue<string>()));
                }
            }
        }

        foreach (var variable in container["env"] as JsonArray ?? [])
        {
            var name = variable!["name"]!.GetValue<string>();
            if (variable["valueFrom"]?["secretKeyRef"] is { } reference)
            {
                var secretName = reference["name"]!.GetValue<string>();
                var key = reference["key"]!.GetValue<string>();
                if (!_secrets.TryGetValue($"{ns}/{secretName}", out var secret) || secret["data"]?[key]?.GetValue<string>() is not { } encoded)
                {
                    missing = $"secret \"{secretName}\" not found or has no key {key}";
                    return null;
                }

                environment[name] = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
            }
            else
            {
                environment[name] = variable["value"]?.GetValue<string>() ?? "";
            }
        }

        return environment;
    }

    /// <summary>The pod ended: the Job gets its Complete or Failed condition, as the Job controller sets them.</summary>
    private void Complete(string ns, string job)
    {
        if (!_jobs.TryGetValue($"{ns}/{job}", out var body) || !_pods.TryGetValue($"{ns}/{job}", out var pod))
        {
            return;
        }

        var succeeded = pod.Phase == "Succeeded";
        lock (_lock)
        {
            body["status"] = new JsonObject
            {
                ["startTime"] = Now(),
                ["completionTime"] = succeeded ? Now() : null,
                [succeeded ? "succeeded" : "failed"] = 1,
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = succeeded ? "Complete" : "Failed",
                    ["status"] = "True",
                    ["reason"] = succeeded ? null : "BackoffLimitExceeded",
                    ["message"] = succeeded ? null : "Job has reached the specified backoff limit",
                    ["lastTransitionTime"] = Now(),
                }),
            };
        }
    }

    private static IResult Invalid(string kind, string group, string name, IReadOnlyList<FieldError> errors)
    {
        var causes = new JsonArray([.. errors.Select(e => (JsonNode)new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = e.Message, ["field"] = e.Field })]);
        var message = $"{Resource(kind, group)} \"{name}\" is invalid: " + string.Join(", ", errors.Select(e => $"{e.Field}: {e.Message}"));
        var status = StatusBody(422, "Invalid", message);
        status["details"] = new JsonObject { ["name"] = name, ["group"] = group, ["kind"] = kind.ToLowerInvariant() + "s", ["causes"] = causes };
        return Results.Text(status.ToJsonString(), "application/json", statusCode: 422);
    }

    private static IResult Status(int code, string reason, string message) =>
        Results.Text(StatusBody(code, reason, message).ToJsonString(), "application/json", statusCode: code);

    private static JsonObject StatusBody(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static string Resource(string kind, string group) => group.Length == 0 ? kind : $"{kind}.{group}";

    private static string Now() => DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static bool IsDnsLabel(string name) =>
        name.Length is > 0 and <= 63 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') && name[0] != '-' && name[^1] != '-';

    private static bool IsDnsSubdomain(string name) => name.Length is > 0 and <= 253 && name.Split('.').All(IsDnsLabel);

    /// <summary>One pod of a Job: its status as the kubelet reports it, its process, its log.</summary>
    private sealed class Pod(string key, string name, string ns, JsonObject labels, string container, Action ended, Action changed)
    {
        private readonly Lock _lock = new();
        private readonly List<(DateTimeOffset At, string Line)> _log = [];
        private readonly string _created = Now();
        private JsonObject _state = new() { ["waiting"] = new JsonObject { ["reason"] = "ContainerCreating" } };
        private JsonArray _conditions = [];
        private string? _reason;
        private string? _message;
        private Process? _process;
        private bool _ended;

        public string Key { get; } = key;

        public string Phase { get; private set; } = "Pending";

        public SemaphoreSlim Changed { get; } = new(0);

        public JsonObject Snapshot()
        {
            lock (_lock)
            {
                return new JsonObject
                {
                    ["apiVersion"] = "v1",
                    ["kind"] = "Pod",
                    ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = labels.DeepClone(), ["creationTimestamp"] = _created },
                    ["status"] = new JsonObject
                    {
                        ["phase"] = Phase,
                        ["reason"] = _reason,
                        ["message"] = _message,
                        ["conditions"] = _conditions.DeepClone(),
                        ["containerStatuses"] = new JsonArray(new JsonObject
                        {
                            ["name"] = container,
                            ["ready"] = Phase == "Running",
                            ["restartCount"] = 0,
                            ["image"] = "",
                            ["imageID"] = "",
                            ["state"] = _state.DeepClone(),
                        }),
                    },
                };
            }
        }

        public (IReadOnlyList<(DateTimeOffset At, string Line)> Lines, bool Ended) Log(int from)
        {
            lock (_lock)
            {
                return ([.. _log.Skip(from)], _ended);
            }
        }

        public void Unschedulable(string message)
        {
            lock (_lock)
            {
                _conditions = [new JsonObject { ["type"] = "PodScheduled", ["status"] = "False", ["reason"] = "Unschedulable", ["message"] = message, ["lastTransitionTime"] = Now() }];
            }

            changed();
        }

        public void Waiting(string reason, string message)
        {
            lock (_lock)
            {
                _state = new JsonObject { ["waiting"] = new JsonObject { ["reason"] = reason, ["message"] = message } };
            }

            changed();
        }

        public void Evict(string message)
        {
            lock (_lock)
            {
                Phase = "Failed";
                _reason = "Evicted";
                _message = message;
                _state = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 137, ["reason"] = "ContainerStatusUnknown", ["startedAt"] = Now(), ["finishedAt"] = Now() } };
            }

            End();
        }

        public void Terminate(int exitCode, string reason, string? message)
        {
            lock (_lock)
            {
                Phase = exitCode == 0 ? "Succeeded" : "Failed";
                _state = new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = exitCode, ["reason"] = reason, ["message"] = message, ["startedAt"] = _created, ["finishedAt"] = Now() } };
            }

            End();
        }

        public void Run(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment)
        {
            var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in command.Skip(1))
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment.Clear();
            foreach (var (variable, value) in environment)
            {
                start.Environment[variable] = value;
            }

            var process = new Process { StartInfo = start, EnableRaisingEvents = true };
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            try
            {
                process.Start();
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                Waiting("RunContainerError", $"exec: \"{command[0]}\": {ex.Message}");
                return;
            }

            lock (_lock)
            {
                _process = process;
                Phase = "Running";
                _state = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = Now() } };
            }

            changed();

            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _ = process.WaitForExitAsync().ContinueWith(_ => Terminate(process.ExitCode, process.ExitCode == 0 ? "Completed" : "Error", null), TaskScheduler.Default);
        }

        public void Kill()
        {
            try
            {
                _process?.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_lock)
            {
                _log.Add((DateTimeOffset.UtcNow, line));
            }

            Changed.Release();
        }

        private void End()
        {
            lock (_lock)
            {
                _ended = true;
            }

            Changed.Release();
            ended();
            changed();
        }
    }
}
