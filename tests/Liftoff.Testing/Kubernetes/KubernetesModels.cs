using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Liftoff.Core;

namespace Liftoff.Testing.Kubernetes;

/// <summary>
/// The npm package kubernetes-models (installed by scripts/setup/npm-packages.sh) in a node process: it checks an
/// object against the Kubernetes OpenAPI schemas it was generated from, independently of Liftoff's own checks.
/// </summary>
public sealed partial class KubernetesModels : IAsyncDisposable
{
    private readonly Process _node;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private KubernetesModels(Process node) => _node = node;

    public static KubernetesModels Start()
    {
        var directory = Path.Combine(Repo.Root, "tests", "kubernetes-models");
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "kubernetes-models")))
        {
            throw new InvalidOperationException($"kubernetes-models is not installed in {directory}: run scripts/setup/npm-packages.sh (scripts/test.sh does)");
        }

        var start = new ProcessStartInfo("node", ["validate.mjs"])
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        return new KubernetesModels(Process.Start(start) ?? throw new InvalidOperationException("node did not start"));
    }

    /// <summary>What kubernetes-models finds wrong with <paramref name="value"/> (of a kind validate.mjs lists), paths as <c>spec.template.spec.containers[0].image</c>.</summary>
    public async Task<IReadOnlyList<FieldError>> CheckAsync(string kind, JsonObject value)
    {
        await _gate.WaitAsync();
        try
        {
            await _node.StandardInput.WriteLineAsync(new JsonObject { ["kind"] = kind, ["object"] = value.DeepClone() }.ToJsonString());
            await _node.StandardInput.FlushAsync();
            var answer = await _node.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the kubernetes-models validator exited");
            return [.. JsonNode.Parse(answer)!["errors"]!.AsArray().Select(e => new FieldError(FieldPath(e!["path"]!.GetValue<string>()), e["message"]!.GetValue<string>()))];
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _node.StandardInput.Close();
        await _node.WaitForExitAsync();
        _node.Dispose();
        _gate.Dispose();
    }

    private static string FieldPath(string pointer) => Index().Replace(pointer.TrimStart('/').Replace('/', '.'), "[$1]");

    [GeneratedRegex(@"\.(\d+)(?=\.|$)")]
    private static partial Regex Index();
}
