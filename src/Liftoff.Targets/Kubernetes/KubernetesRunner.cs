using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Targets.Builders;
using Liftoff.Targets.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Liftoff.Targets.Kubernetes;

/// <summary>
/// The <c>kubernetes</c> target: each attempt is a batch/v1 Job (<see cref="KubernetesJobs"/>) with the run-scoped key in
/// a Secret beside it. The image comes from the builder (pushed, since the cluster pulls it). The Job and its pod are
/// read until it ends, the container's log streams into the run's console, and a stop deletes the Job with its pods.
/// Jobs carry their item, attempt, run, queue and agent, so a restarted agent finds its own again.
/// </summary>
internal sealed class KubernetesRunner(AgentOptions options, IImageBuilder builder, KubernetesCluster cluster, LiftoffClient client, TimeProvider time) : ILaunchRunner, IReattachableRunner
{
    public async Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var spec = context.Spec;
        if (spec.Entrypoint.Count == 0)
        {
            throw new LaunchException(ItemPhases.Submit, "the launch has no entrypoint: give the job one, or the launch --entrypoint");
        }

        var image = await builder.PrepareAsync(context, push: true, cancellationToken);
        var name = KubernetesJobs.JobName(spec);
        var target = new KubernetesJobTarget(name, cluster.Namespace, image.Reference, name, options.Name, options.Target<KubernetesSettings>().ImagePullSecrets ?? [],
            options.Target<KubernetesSettings>().TtlSecondsAfterFinished ?? 3600, AgentEnvironment(context));
        var resource = spec.ResourceConfig.ValueKind == JsonValueKind.Object ? JsonNode.Parse(spec.ResourceConfig.GetRawText())!.AsObject() : [];
        var (manifest, secretManifest) = KubernetesJobs.BuildWithSecret(spec, resource, target);
        if (KubernetesJobs.Ungranted(spec, manifest, target) is { Count: > 0 } refused)
        {
            throw new LaunchException(ItemPhases.Submit, "the Job would break the restricted pod security profile where the queue's own config does not: "
                + string.Join("; ", refused.Select(v => $"{v.Path}: {v.Message}")));
        }

        var job = KubernetesJson.Deserialize<V1Job>(manifest.ToJsonString());
        var secret = KubernetesJson.Deserialize<V1Secret>(secretManifest.ToJsonString());

        await context.Console.WriteAsync("stderr", $"[liftoff agent] creating Job {cluster.Namespace}/{name} with image {image.Reference}", cancellationToken);
        try
        {
            await cluster.Client.CoreV1.CreateNamespacedSecretAsync(secret, cluster.Namespace, cancellationToken: cancellationToken);
            await cluster.Client.BatchV1.CreateNamespacedJobAsync(job, cluster.Namespace, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex)
        {
            await DeleteSecretAsync(name, CancellationToken.None);
            throw new LaunchException(ItemPhases.Submit, $"the cluster refused Job {name}: {KubernetesCluster.Describe(ex)}", ex);
        }
        catch (OperationCanceledException)
        {
            await DeleteJobAsync(name, TimeSpan.Zero, CancellationToken.None);
            throw;
        }

        return new KubernetesWorkload(cluster, name, context.Console, Settings(), time, forwardedLines: 0);
    }

    public async Task<IReadOnlyList<LeftoverWorkload>> FindLeftoversAsync(string agentName, CancellationToken cancellationToken)
    {
        var selector = $"{KubernetesJobs.AgentLabel}={KubernetesJobs.LabelValue(agentName)},{KubernetesJobs.ResourceLabel}={Resources.Kubernetes}";
        var jobs = await cluster.Client.BatchV1.ListNamespacedJobAsync(cluster.Namespace, labelSelector: selector, cancellationToken: cancellationToken);
        var leftovers = new List<LeftoverWorkload>();
        foreach (var job in jobs.Items.Where(j => j.Metadata.DeletionTimestamp is null && Annotation(j, KubernetesJobs.AgentAnnotation) == agentName))
        {
            var labels = job.Metadata.Labels ?? new Dictionary<string, string>();
            if (labels.TryGetValue(KubernetesJobs.ItemLabel, out var item) && labels.TryGetValue(KubernetesJobs.AttemptLabel, out var attemptText)
                && int.TryParse(attemptText, System.Globalization.CultureInfo.InvariantCulture, out var attempt)
                && Annotation(job, KubernetesJobs.RunAnnotation) is { } run && Annotation(job, KubernetesJobs.QueueAnnotation) is { } queue)
            {
                leftovers.Add(new LeftoverWorkload(item, attempt, run, queue, Resources.Kubernetes, job.Metadata.Name, await SecretEnvironmentAsync(job.Metadata.Name, cancellationToken)));
            }
        }

        return leftovers;
    }

    public async Task<ILaunchedWorkload> AttachAsync(LeftoverWorkload leftover, RunConsole console, CancellationToken cancellationToken)
    {
        var forwarded = 0L;
        await foreach (var line in client.ReadLogsAsync(leftover.RunId, cancellationToken: cancellationToken))
        {
            forwarded += line.Stream == "stdout" ? 1 : 0;
        }

        return new KubernetesWorkload(cluster, leftover.Handle, console, Settings(), time, forwarded);
    }

    public async Task RemoveAsync(LeftoverWorkload leftover, CancellationToken cancellationToken) =>
        await DeleteJobAsync(leftover.Handle, TimeSpan.Zero, cancellationToken);

    private KubernetesWorkload.Options Settings() => new(
        TimeSpan.FromSeconds(options.Target<KubernetesSettings>().PollSeconds ?? 10),
        TimeSpan.FromSeconds(options.Target<KubernetesSettings>().PendingTimeoutSeconds ?? 600));

    /// <summary>What the container needs beyond the launch's variables: where the server is, and unbuffered Python output for the log.</summary>
    private Dictionary<string, string> AgentEnvironment(LaunchContext context)
    {
        var url = options.Target<KubernetesSettings>().ServerUrl?.TrimEnd('/') ?? context.Client.Settings.BaseUrl.ToString().TrimEnd('/');
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["LIFTOFF_BASE_URL"] = url,
            ["WANDB_BASE_URL"] = url,
            ["LIFTOFF_CONSOLE"] = "off",
            ["PYTHONUNBUFFERED"] = "1",
        };
    }

    /// <summary>The key a leftover's Secret holds, so reports about it are redacted.</summary>
    private async Task<IReadOnlyDictionary<string, string>> SecretEnvironmentAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var secret = await cluster.Client.CoreV1.ReadNamespacedSecretAsync(name, cluster.Namespace, cancellationToken: cancellationToken);
            return (secret.Data ?? new Dictionary<string, byte[]>()).ToDictionary(d => d.Key, d => System.Text.Encoding.UTF8.GetString(d.Value), StringComparer.Ordinal);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }
    }

    private async Task DeleteJobAsync(string name, TimeSpan grace, CancellationToken cancellationToken)
    {
        await KubernetesWorkload.DeleteAsync(cluster, name, grace, cancellationToken);
        await DeleteSecretAsync(name, cancellationToken);
    }

    private async Task DeleteSecretAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await cluster.Client.CoreV1.DeleteNamespacedSecretAsync(name, cluster.Namespace, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    private static string? Annotation(V1Job job, string key) => job.Metadata.Annotations?.TryGetValue(key, out var value) == true ? value : null;
}
