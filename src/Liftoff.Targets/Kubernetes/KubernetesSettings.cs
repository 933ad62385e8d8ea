namespace Liftoff.Targets.Kubernetes;

/// <summary>
/// The agent config's <c>kubernetes:</c> section: which cluster (a kubeconfig and context, or the pod's own service
/// account), which namespace, and how the Jobs it makes pull images and reach the Liftoff server.
/// </summary>
internal sealed class KubernetesSettings
{
    /// <summary>A kubeconfig file; default <c>$KUBECONFIG</c>, then <c>~/.kube/config</c>.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>The kubeconfig context; default its current context.</summary>
    public string? Context { get; set; }

    /// <summary>Where Jobs and Secrets go; default the context's namespace, then <c>default</c>.</summary>
    public string? Namespace { get; set; }

    /// <summary>Use the service account of the pod the agent runs in instead of a kubeconfig.</summary>
    public bool? InCluster { get; set; }

    /// <summary>Secrets of type kubernetes.io/dockerconfigjson in the namespace, added to every Job's imagePullSecrets.</summary>
    public List<string>? ImagePullSecrets { get; set; }

    /// <summary>The Liftoff server's URL as pods see it; default the URL the agent uses.</summary>
    public string? ServerUrl { get; set; }

    /// <summary>How long a finished Job stays for inspection before the cluster removes it.</summary>
    public int? TtlSecondsAfterFinished { get; set; }

    /// <summary>How long a pod may stay pending (unschedulable, image pull failing) before the launch fails with the reason.</summary>
    public double? PendingTimeoutSeconds { get; set; }

    /// <summary>How often the Job and its pods are read when no watch event arrives (the pending timeout's clock).</summary>
    public double? PollSeconds { get; set; }

    public IEnumerable<string> Validate()
    {
        if (InCluster == true && (Kubeconfig is not null || Context is not null))
        {
            yield return "kubernetes.in_cluster: in-cluster config takes no kubeconfig or context";
        }

        if (Namespace is { } ns && !IsDnsLabel(ns))
        {
            yield return $"kubernetes.namespace: '{ns}' is not a namespace name (lower-case letters, digits and '-', at most 63)";
        }

        foreach (var secret in (ImagePullSecrets ?? []).Where(s => !IsDnsSubdomain(s)))
        {
            yield return $"kubernetes.image_pull_secrets: '{secret}' is not a Secret name";
        }

        if (ServerUrl is { } url && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            yield return "kubernetes.server_url: an http(s) URL pods reach the Liftoff server at";
        }

        if (TtlSecondsAfterFinished is < 0)
        {
            yield return "kubernetes.ttl_seconds_after_finished: zero or more seconds";
        }

        if (PendingTimeoutSeconds is { } pending && !(pending > 0))
        {
            yield return "kubernetes.pending_timeout_seconds: a positive number of seconds";
        }

        if (PollSeconds is { } poll && !(poll > 0))
        {
            yield return "kubernetes.poll_seconds: a positive number of seconds";
        }
    }

    private static bool IsDnsLabel(string name) =>
        name.Length is > 0 and <= 63 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') && name[0] != '-' && name[^1] != '-';

    private static bool IsDnsSubdomain(string name) =>
        name.Length is > 0 and <= 253 && name.Split('.').All(IsDnsLabel);
}
