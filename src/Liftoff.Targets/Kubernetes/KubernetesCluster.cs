using System.Text.Json;
using Liftoff.Contracts;
using k8s;
using k8s.Autorest;

namespace Liftoff.Targets.Kubernetes;

/// <summary>The agent's connection to its cluster, made on first use from the <c>kubernetes:</c> settings.</summary>
internal sealed class KubernetesCluster(AgentOptions options) : IDisposable
{
    // PublicationOnly: a failure to connect is not cached, so fixing the kubeconfig needs no agent restart.
    private readonly Lazy<(IKubernetes Client, string Namespace)> _connection = new(() => Connect(options.Target<KubernetesSettings>()), LazyThreadSafetyMode.PublicationOnly);

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
        KubernetesClientConfiguration config;
        try
        {
            config = settings.InCluster == true
                ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildConfigFromConfigFile(settings.Kubeconfig, settings.Context);
        }
        catch (Exception ex) when (ex is k8s.Exceptions.KubeConfigException or IOException)
        {
            throw new LaunchException(ItemPhases.Submit, $"the agent's kubernetes settings name no usable cluster ({(settings.InCluster == true ? "in-cluster config" : settings.Kubeconfig ?? "the default kubeconfig")}): {ex.Message}", ex);
        }

        return (new k8s.Kubernetes(config), settings.Namespace ?? config.Namespace ?? "default");
    }
}
