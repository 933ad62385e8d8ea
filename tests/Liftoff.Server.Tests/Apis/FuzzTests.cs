using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Liftoff.Server.Tests.Apis;

/// <summary>
/// Generated requests over every operation of the server's own OpenAPI document and the wandb routes: malformed JSON,
/// wrong types, huge and odd strings, lone surrogates, NUL, path traversal, overflowing numbers. No answer may be a
/// 5xx, every 400 is a problem document naming a field, and every listing still answers afterwards. The seed is fixed
/// (LIFTOFF_FUZZ_SEED overrides it) and printed with any failure, so a failure replays.
/// </summary>
public sealed class FuzzTests(ServerFixture server, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    private const int MaxRequests = 15_000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(45);

    private static readonly string[] HostileStrings =
    [
        "", " ", "\\ud800", "a\\udc00b", "\\u0000", "nul\\u0000inside", "../../etc/passwd", "/etc/passwd", "..", "~", "%2e%2e%2f",
        "${secret:X}", "{{gpus}}", "${run_id}", "'; DROP TABLE runs; --", "<script>alert(1)</script>", "\\ud83d\\ude00", "ünïcödé", "NaN",
        "-1", "1e400", "true", "null", "\\\\", "\\\"", "a:b:c", "x@sha256:", "latest", "v0", "q", "p", "train",
    ];

    private static readonly string[] HostileNumbers = ["0", "-1", "1e400", "-1e400", "99999999999999999999999", "1.5", "2147483648", "-9223372036854775809", "1e-400", "0.0"];

    private static readonly string[] HostilePathSegments =
    [
        "..", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "%00", "a%00b", "%ED%A0%80", "%F0%9F%98%80", "%FF", new string('a', 5000), "~", "%20", "-", "q", "p",
    ];

    [Fact]
    public async Task EveryOperation_UnderGeneratedHostileRequests_NeverAnswers5xx_Every400NamesAField_AndListingsStillAnswer()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("LIFTOFF_FUZZ_SEED"), CultureInfo.InvariantCulture, out var given) ? given : 15;
        var random = new Random(seed);
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        http.Timeout = TimeSpan.FromSeconds(30);
        var known = await SetUpAsync(http);
        var document = await (await http.GetAsync("/openapi/v1.json")).JsonAsync();
        var operations = Operations(document).ToList();
        Assert.True(operations.Count > 20, $"the OpenAPI document lists only {operations.Count} operations");

        var failures = new List<string>();
        var unnamed = new List<string>();
        var answered = new Dictionary<string, int>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        var sent = 0;
        for (; sent < MaxRequests && clock.Elapsed < Budget && failures.Count < 20; sent++)
        {
            using var request = random.Next(10) == 0 ? Wandb(random, known, key) : Request(random, operations[random.Next(operations.Count)], document, known);
            var line = $"{request.Method} {request.RequestUri}";
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                // A long poll (claim, a log follow) that waited as asked; not an answer to judge.
                continue;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                answered[status.ToString(CultureInfo.InvariantCulture)] = answered.GetValueOrDefault(status.ToString(CultureInfo.InvariantCulture)) + 1;
                var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                if (status >= 500)
                {
                    failures.Add($"{status} for {line} {Cut(body)} -> {Cut(text)}");
                }
                // /graphql answers in GraphQL's own error format, as the wandb clients expect; Kestrel refuses a
                // NUL in the path before any of Liftoff runs, with an empty 400.
                else if (status == 400 && request.RequestUri!.AbsolutePath != "/graphql" && !(text.Length == 0 && line.Contains("%00", StringComparison.Ordinal))
                    && ProblemWithoutField(response, text) is { } problem)
                {
                    unnamed.Add($"400 without a named field for {line} {Cut(body)}: {problem}");
                }
            }
        }

        var queues = await (await http.GetAsync("/api/v1/queues")).JsonAsync();
        var listings = new[] { "/api/v1/runs", "/api/v1/runs?project=p", "/api/v1/runs?project=p&sort=-config.lr&count=true", "/api/v1/projects", "/api/v1/jobs", "/api/v1/agents" }
            .Concat(queues.GetProperty("queues").EnumerateArray().Select(q => $"/api/v1/queues/{q.GetProperty("name").GetString()}/items"));
        var runs = await (await http.GetAsync("/api/v1/runs?limit=200")).JsonAsync();
        listings = listings.Concat(runs.GetProperty("runs").EnumerateArray().Select(r => $"/api/v1/runs/{r.GetProperty("id").GetString()}/history"));
        foreach (var listing in listings)
        {
            using var response = await http.GetAsync(listing);
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.OK || !IsJson(text))
            {
                failures.Add($"listing {listing} answered {(int)response.StatusCode} afterwards: {Cut(text)}");
            }
        }

        failures.AddRange(unnamed.Take(20));
        output.WriteLine($"seed {seed}: {sent} requests in {clock.Elapsed.TotalSeconds:F1}s over {operations.Count} operations; answers {string.Join(", ", answered.OrderBy(a => a.Key).Select(a => $"{a.Key}×{a.Value}"))}");
        Assert.True(failures.Count == 0, $"seed {seed} (set LIFTOFF_FUZZ_SEED={seed} to replay):\n" + string.Join("\n", failures));
        Assert.True(sent >= 500, $"seed {seed}: only {sent} requests were sent in the time budget");
    }

    /// <summary>A run, a job, a queue with an item and an agent, so generated paths often reach real resources.</summary>
    private static async Task<Dictionary<string, string>> SetUpAsync(HttpClient http)
    {
        var run = await (await http.PostJsonAsync("/api/v1/runs", """{"project":"p","config":{"lr":0.1}}""")).JsonAsync(HttpStatusCode.Created);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await (await http.PostJsonAsync("/api/v1/queues", """{"name":"q","resource":"local-process","template_variables":[{"name":"gpus","type":"integer","min":1,"max":8}]}""")).JsonAsync(HttpStatusCode.Created);
        var item = await (await http.PostJsonAsync("/api/v1/queues/q/items", """{"job":"train","project":"p","template_values":{"gpus":2}}""")).JsonAsync(HttpStatusCode.Created);
        var agent = await (await http.PostJsonAsync("/api/v1/agents", """{"name":"a","queues":["q"]}""")).JsonAsync(HttpStatusCode.Created);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["id"] = run.GetProperty("id").GetString()!, ["project"] = "p", ["name"] = "q", ["job"] = "train", ["entity"] = run.GetProperty("entity").GetString()!,
            ["item"] = item.GetProperty("id").GetString()!, ["agent"] = agent.GetProperty("id").GetString()!, ["run"] = run.GetProperty("id").GetString()!,
        };
    }

    private sealed record Operation(string Method, string Path, JsonElement Spec);

    private static IEnumerable<Operation> Operations(JsonElement document)
    {
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "patch" or "delete"))
            {
                yield return new Operation(operation.Name.ToUpperInvariant(), path.Name, operation.Value);
            }
        }
    }

    private static HttpRequestMessage Request(Random random, Operation operation, JsonElement document, Dictionary<string, string> known)
    {
        var path = new StringBuilder(operation.Path);
        var query = new List<string>();
        if (operation.Spec.TryGetProperty("parameters", out var parameters))
        {
            foreach (var parameter in parameters.EnumerateArray())
            {
                var name = parameter.GetProperty("name").GetString()!;
                var where = parameter.GetProperty("in").GetString();
                if (where == "path")
                {
                    var value = random.Next(3) == 0 ? Pick(random, HostilePathSegments) : known.GetValueOrDefault(name) ?? known.GetValueOrDefault(name.Replace("_id", "", StringComparison.Ordinal)) ?? Pick(random, HostilePathSegments);
                    path.Replace("{" + name + "}", value);
                }
                else if (where == "query" && name != "follow" && random.Next(2) == 0)
                {
                    var type = parameter.TryGetProperty("schema", out var schema) ? TypeOf(schema) : "string";
                    var value = random.Next(3) == 0
                        ? Pick(random, HostilePathSegments)
                        : Uri.EscapeDataString(type is "integer" or "number" ? Pick(random, HostileNumbers) : type == "boolean" ? Pick(random, ["true", "false", "maybe"]) : Pick(random, HostileStrings));
                    query.Add(name + "=" + value);
                }
            }
        }

        if (query.Count > 0)
        {
            path.Append('?').AppendJoin('&', query);
        }

        var request = new HttpRequestMessage(new HttpMethod(operation.Method), path.ToString());
        if (operation.Method is "POST" or "PUT" or "PATCH")
        {
            var schema = operation.Spec.TryGetProperty("requestBody", out var requestBody)
                && requestBody.TryGetProperty("content", out var content) && content.TryGetProperty("application/json", out var json)
                && json.TryGetProperty("schema", out var bodySchema) ? bodySchema : default;
            request.Content = new StringContent(Body(random, schema, document), Encoding.UTF8, "application/json");
        }

        return request;
    }

    /// <summary>Mostly a document shaped by the operation's schema with hostile values, sometimes text that is no JSON.</summary>
    private static string Body(Random random, JsonElement schema, JsonElement document) => random.Next(8) switch
    {
        0 => Pick(random, ["", "{", "[1,", "\"abc", "{\"a\":}", "nul\0l", "{\"a\":1}}", "[]", "123", "{\"a\":\"\\ud800\"}", new string('[', 5000), "{\"x\":1e400}"]),
        _ => Value(random, Resolve(schema, document), document, 0),
    };

    private static string Value(Random random, JsonElement schema, JsonElement document, int depth)
    {
        if (random.Next(6) == 0 || depth > 4)
        {
            return Hostile(random);
        }

        schema = Resolve(schema, document);
        switch (schema.ValueKind == JsonValueKind.Object ? TypeOf(schema) : "any")
        {
            case "object":
                var members = new List<string>();
                if (schema.TryGetProperty("properties", out var properties))
                {
                    foreach (var property in properties.EnumerateObject().Where(_ => random.Next(4) != 0))
                    {
                        members.Add(JsonSerializer.Serialize(property.Name) + ":" + Value(random, property.Value, document, depth + 1));
                    }
                }

                if (random.Next(4) == 0)
                {
                    members.Add("\"" + Pick(random, HostileStrings) + "\":" + Hostile(random));
                }

                return "{" + string.Join(",", members) + "}";
            case "array":
                var items = schema.TryGetProperty("items", out var itemSchema) ? itemSchema : default;
                return "[" + string.Join(",", Enumerable.Range(0, random.Next(4)).Select(_ => random.Next(8) == 0 ? "null" : Value(random, items, document, depth + 1))) + "]";
            case "integer" or "number":
                return Pick(random, HostileNumbers);
            case "boolean":
                return random.Next(2) == 0 ? "true" : "false";
            case "string":
                return "\"" + Pick(random, HostileStrings) + "\"";
            default:
                return Hostile(random);
        }
    }

    /// <summary>A JSON value of any type: the wrong type for most fields.</summary>
    private static string Hostile(Random random) => random.Next(7) switch
    {
        0 => Pick(random, HostileNumbers),
        1 => "\"" + new string('x', random.Next(2) == 0 ? 300 : 70_000) + "\"",
        2 => Pick(random, ["null", "true", "[]", "{}", "[null]", "{\"\":null}"]),
        3 => "{\"env\":{\"A\":\"" + Pick(random, HostileStrings) + "\"},\"volumes\":[\"" + Pick(random, HostileStrings) + ":/x\"],\"image\":\"" + Pick(random, HostileStrings) + "\"}",
        4 => "[" + string.Join(",", Enumerable.Range(0, 3).Select(_ => "\"" + Pick(random, HostileStrings) + "\"")) + "]",
        _ => "\"" + Pick(random, HostileStrings) + "\"",
    };

    /// <summary>The wandb routes, which the OpenAPI document does not describe.</summary>
    private static HttpRequestMessage Wandb(Random random, Dictionary<string, string> known, string key)
    {
        HttpRequestMessage request;
        if (random.Next(2) == 0)
        {
            var run = random.Next(2) == 0 ? known["run"] : Pick(random, HostilePathSegments);
            var line = Pick(random, ["{\"_step\":1,\"loss\":0.5}", "{\"a\":\"\\\\ud800\"}", "{\"a\":1e400}", "not json", "{\"_step\":-1}", "{\"_step\":1e400}", "[1]"]);
            var body = random.Next(5) == 0
                ? Pick(random, ["", "{", "[]", "{\"files\":\"x\"}", "{\"files\":{\"output.log\":{\"offset\":-5,\"content\":[1,null,{}]}}}"])
                : $$$"""{"files":{"{{{Pick(random, ["wandb-history.jsonl", "wandb-summary.json", "output.log", "../x"])}}}":{"offset":{{{Pick(random, HostileNumbers)}}},"content":[{{{JsonSerializer.Serialize(line)}}}]}},"complete":{{{Pick(random, ["true", "false", "1"])}}},"exitcode":{{{Pick(random, HostileNumbers)}}}}""";
            request = new HttpRequestMessage(HttpMethod.Post, $"/files/{known["entity"]}/p/{run}/file_stream") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        }
        else
        {
            var query = Pick(random, [
                "mutation U($name: String, $config: JSONString, $summaryMetrics: JSONString) { upsertBucket(input: {name: $name, modelName: \\\"p\\\", config: $config, summaryMetrics: $summaryMetrics}) { bucket { id name config } inserted } }",
                "mutation { upsertBucket(input: {name: \\\"\\\\ud800\\\", modelName: \\\"p\\\"}) { bucket { id } } }",
                "mutation { upsertBucket(input: {name: \\\"r1\\\", modelName: \\\"p\\\", summaryMetrics: \\\"{}\\\", config: \\\"{\\\\\\\"a\\\\\\\": 1e400}\\\"}) { bucket { id } } }",
                "query { model(name: \\\"p\\\", entityName: \\\"x\\\") { bucket(name: \\\"r\\\") { id config summaryMetrics historyTail } } }",
                "{ viewer { id entity } }", "query { __schema { types { name } } }", "mutation {", "}}}", "query Q($a: Float = 1e400) { viewer { id } }",
            ]);
            var name = Pick(random, ["r1", known["run"], "\\ud800", "../x", ""]);
            var config = Pick(random, ["\"{\\\"a\\\":\\\"\\\\ud800\\\"}\"", "\"{\\\"a\\\":1e400}\"", "\"[]\"", "\"nope\"", "{}", "1e400", "\"{\\\"lr\\\":{\\\"value\\\":0.1}}\""]);
            var summary = Pick(random, ["\"{}\"", "\"{\\\"x\\\":NaN}\"", "\"\\ud800\"", "null"]);
            var variables = "{\"name\":\"" + name + "\",\"config\":" + config + ",\"summaryMetrics\":" + summary + "}";
            var body = random.Next(6) == 0 ? Pick(random, ["", "{", "{\"query\":1}", "[]"]) : $$$"""{"query":"{{{query}}}","variables":{{{variables}}}}""";
            request = new HttpRequestMessage(HttpMethod.Post, "/graphql") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        }

        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("api:" + key)));
        return request;
    }

    /// <summary>Why a 400 is not a problem document naming a field; null when it is one.</summary>
    private static string? ProblemWithoutField(HttpResponseMessage response, string text)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json" || !IsJson(text))
        {
            return $"not a problem document: {response.Content.Headers.ContentType} {Cut(text)}";
        }

        using var problem = JsonDocument.Parse(text);
        var root = problem.RootElement;
        if (!root.TryGetProperty("status", out var status) || status.GetInt32() != 400 || !root.TryGetProperty("title", out _))
        {
            return "no status 400 or title: " + Cut(text);
        }

        return root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object && errors.EnumerateObject().Any(e => e.Name.Length > 0)
            ? null
            : "no field named in errors: " + Cut(text);
    }

    private static JsonElement Resolve(JsonElement schema, JsonElement document)
    {
        for (var hops = 0; hops < 10 && schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("$ref", out var reference); hops++)
        {
            var name = reference.GetString()!.Split('/')[^1];
            schema = document.GetProperty("components").GetProperty("schemas").TryGetProperty(name, out var found) ? found : default;
        }

        return schema;
    }

    private static string TypeOf(JsonElement schema) =>
        !schema.TryGetProperty("type", out var type) ? "any"
        : type.ValueKind == JsonValueKind.String ? type.GetString()!
        : type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).FirstOrDefault(t => t != "null") ?? "null"
        : "any";

    private static bool IsJson(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> choices) => choices[random.Next(choices.Count)];

    private static string Cut(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
