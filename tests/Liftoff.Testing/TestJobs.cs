using System.Net.Http.Json;
using System.Text;

namespace Liftoff.Testing;

/// <summary>Jobs made through the real API, for tests that launch them.</summary>
public static class TestJobs
{
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";

    /// <summary>A git job (nothing is cloned at creation) with the given input schema or config defaults JSON.</summary>
    public static async Task CreateRepoJobAsync(HttpClient http, string project, string name, string? configDefaults = null, string? inputTypes = null, string entrypoint = """["python", "train.py"]""")
    {
        var body = $$"""
            {"project":"{{project}}","name":"{{name}}",
             "definition":{"source_type":"repo","source":{"remote":"https://example.invalid/repo.git","commit":"{{Commit}}"},"entrypoint":{{entrypoint}}{{(inputTypes is null ? "" : ",\"input_types\":" + inputTypes)}}}
             {{(configDefaults is null ? "" : ",\"config_defaults\":" + configDefaults)}}}
            """;
        using var response = await http.PostAsync("/api/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"creating job {name} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    public static async Task CreateImageJobAsync(HttpClient http, string project, string name, string image = "registry.invalid/train:1")
    {
        var body = $$$"""{"project":"{{{project}}}","name":"{{{name}}}","definition":{"source_type":"image","source":{"image":"{{{image}}}"},"entrypoint":["python","train.py"]}}""";
        using var response = await http.PostAsync("/api/v1/jobs", new StringContent(body, Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
    }
}
