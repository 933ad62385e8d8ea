using System.Text.Json;
using k8s;
using k8s.Autorest;

namespace Liftoff.Agent.Runners.Kubernetes;

/// <summary>The agent's connection to its cluster, made on first use from the <c>kubernetes:</c> settings.</summary>
internal sealed class KubernetesCluster(AgentOptions options) : IDisposable
{
    private readonly Lazy<(IKubernetes Client, string Namespace)> _connection = new(() => Connect(options.Kubernetes));

    public IKubernetes Client => _connection.Value.Client;

    public string Namespace => _connection.Value.Namespace;

    /// <summary>The message of a Kubernetes Status body (what the API server says was wrong), else the HTTP status.</summary>
    public static string Describe(HttpOperationException ex)
    {
        try
        {
            if (ex.Response.Content is { Length: > 0 } content && JsonDocument.Parse(content).RootElement.TryGetProperty("message", out var message))
            {
                return $"{(int)ex.Response.StatusCode} {message.GetString()}";
            }
        }
        catch (JsonException)
        {
        }

        return $"{(int)ex.Response.StatusCode} {ex.Response.ReasonPhrase}";
    }

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Client.Dispose();
        }
    }

    private static (IKubernetes, string) Connect(KubernetesSettings settings)
    {
        var config = settings.InCluster == true
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(settings.Kubeconfig, settings.Context);
        return (new k8s.Kubernetes(config), settings.Namespace ?? config.Namespace ?? "default");
    }
}
