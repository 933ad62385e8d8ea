using System.Net;
using System.Threading.Channels;
using Liftoff.Contracts;
using Liftoff.Targets.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Liftoff.Targets.Kubernetes;

/// <summary>
/// One Job, watched until it ends (a watch on the Job and one on its pods wake the agent, which then reads both): a pod that stays pending says why (Unschedulable, ErrImagePull, ImagePullBackOff,
/// CreateContainerConfigError) in the run's console and fails the launch after the pending timeout; the main
/// container's log streams into the console; the end names OOMKilled, evictions and deadlines.
/// </summary>
/// <remarks>
/// The container's log goes to the run's console as <c>stdout</c> lines (the agent's own notes are <c>stderr</c>), so a
/// re-attached workload skips the <paramref name="forwardedLines"/> lines its predecessor already forwarded and
/// replays the rest: nothing printed while no agent watched is lost, nothing is doubled.
/// </remarks>
internal sealed class KubernetesWorkload(KubernetesCluster cluster, string name, RunConsole console, KubernetesWorkload.Options options, TimeProvider time, long forwardedLines)
    : ILaunchedWorkload
{
    private static readonly string[] PullAndConfigReasons = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"];

    private volatile string? _waitingReason;

    public string? WaitingReason => _waitingReason;

    /// <summary>How long the API server may stay unreachable before the agent gives up on the Job.</summary>
    private static readonly TimeSpan UnreachableLimit = TimeSpan.FromMinutes(10);

    /// <summary>How long one watch request stays open before it is reopened (the API server's limit is higher).</summary>
    private const int WatchSeconds = 300;

    /// <summary>How often a deleted Job is read until it is gone.</summary>
    private static readonly TimeSpan StopPoll = TimeSpan.FromMilliseconds(500);

    private readonly Channel<bool> _changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _logs = new();
    private Task? _logTask;

    public async Task<WorkloadExit> WaitForExitAsync(CancellationToken cancellationToken)
    {
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watches = Task.WhenAll(
            WatchAsync(ct => cluster.Client.BatchV1.WatchListNamespacedJobAsync(cluster.Namespace,
                fieldSelector: $"metadata.name={name}", timeoutSeconds: WatchSeconds, cancellationToken: ct), watching.Token),
            WatchAsync(ct => cluster.Client.CoreV1.WatchListNamespacedPodAsync(cluster.Namespace,
                labelSelector: $"job-name={name}", timeoutSeconds: WatchSeconds, cancellationToken: ct), watching.Token));
        try
        {
            return await FollowAsync(cancellationToken);
        }
        finally
        {
            await watching.CancelAsync();
            await watches;
        }
    }

    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        await DeleteAsync(cluster, name, grace, cancellationToken);
        while (await ReadJobAsync(cancellationToken) is not null)
        {
            await Task.Delay(StopPoll, time, cancellationToken);
        }
    }

    /// <summary>Reads the Job and its pods whenever a watch reports a change (at least every poll interval) until the Job ends.</summary>
    private async Task<WorkloadExit> FollowAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset? pendingSince = null;
        DateTimeOffset? unreachableSince = null;
        string? lastPending = null;
        var backoff = Backoff.Default();
        while (true)
        {
            V1Job? job;
            V1PodList pods;
            try
            {
                job = await ReadJobAsync(cancellationToken);
                pods = await cluster.Client.CoreV1.ListNamespacedPodAsync(cluster.Namespace, labelSelector: $"job-name={name}", cancellationToken: cancellationToken);
                unreachableSince = null;
                backoff.Reset();
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                // The Job runs on without us: keep reading through API server restarts and network blips, for a while.
                unreachableSince ??= time.GetUtcNow();
                if (time.GetUtcNow() - unreachableSince > UnreachableLimit)
                {
                    throw;
                }

                await Task.Delay(backoff.Next(), time, cancellationToken);
                continue;
            }

            if (job is null)
            {
                return await EndAsync(new WorkloadExit(143, $"Job {name} was deleted"));
            }

            var pod = pods.Items.OrderByDescending(p => p.Metadata.CreationTimestamp).FirstOrDefault();
            var main = pod?.Status?.ContainerStatuses?.FirstOrDefault(c => c.Name == KubernetesJobs.MainContainer);
            if (pod is not null && (main?.State?.Running is not null || main?.State?.Terminated is not null) && _logTask is null)
            {
                _logTask = StreamLogsAsync(pod.Metadata.Name, _logs.Token);
            }

            if (Condition(job, "Complete") is not null)
            {
                return await EndAsync(new WorkloadExit(0));
            }

            if (Condition(job, "Failed") is { } failed)
            {
                return await EndAsync(Failure(pod, main, failed));
            }

            if (pod is null)
            {
                // A Job whose pods are refused (Pod Security admission, a quota) stays without one, and says why only in its events.
                pendingSince ??= time.GetUtcNow();
                if (time.GetUtcNow() - pendingSince > options.PendingTimeout)
                {
                    await DeleteAsync(cluster, name, TimeSpan.Zero, cancellationToken);
                    return await EndAsync(new WorkloadExit(1, $"Job {name} made no pod in {options.PendingTimeout.TotalSeconds:0} s: the cluster refused it "
                        + "(a namespace's Pod Security level below what the queue's config grants, or a quota); kubectl describe job shows why", ItemPhases.Submit));
                }
            }
            else if (pod.Status?.Phase is null or "Pending" && Pending(pod) is { } reason)
            {
                pendingSince ??= time.GetUtcNow();
                _waitingReason = reason;
                if (reason != lastPending)
                {
                    lastPending = reason;
                    await console.WriteAsync("stderr", $"[liftoff agent] pod {pod?.Metadata.Name} is pending: {reason}", cancellationToken);
                }

                if (time.GetUtcNow() - pendingSince > options.PendingTimeout)
                {
                    await DeleteAsync(cluster, name, TimeSpan.Zero, cancellationToken);
                    var phase = reason.StartsWith("ErrImagePull", StringComparison.Ordinal) || reason.StartsWith("ImagePullBackOff", StringComparison.Ordinal) ? ItemPhases.Pull : ItemPhases.Submit;
                    return await EndAsync(new WorkloadExit(1, $"the pod stayed pending for {options.PendingTimeout.TotalSeconds:0} s: {reason}", phase));
                }
            }
            else
            {
                pendingSince = null;
                lastPending = null;
                _waitingReason = null;
            }

            await NextChangeAsync(cancellationToken);
        }
    }

    /// <summary>Waits for a watch event, or the poll interval (the pending timeout and a watch that missed something need a clock).</summary>
    private async Task NextChangeAsync(CancellationToken cancellationToken)
    {
        using var poll = new CancellationTokenSource(options.Poll, time);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
        try
        {
            await _changes.Reader.WaitToReadAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        _changes.Reader.TryRead(out _);
    }

    /// <summary>Holds a watch open (reopening it when it ends or breaks) and turns each of its events into a change signal.</summary>
    private async Task WatchAsync<T>(Func<CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> open, CancellationToken cancellationToken)
    {
        var backoff = Backoff.Default();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var _ in open(cancellationToken).WithCancellation(cancellationToken))
                {
                    backoff.Reset();
                    _changes.Writer.TryWrite(true);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OperationCanceledException)
            {
                // The poll interval covers what a broken watch misses; the watch is reopened after a backoff.
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(backoff.Next(), time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _logs.CancelAsync();
        if (_logTask is not null)
        {
            await _logTask;
        }

        _logs.Dispose();
        try
        {
            await cluster.Client.CoreV1.DeleteNamespacedSecretAsync(name, cluster.Namespace);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>Deletes the Job and, through foreground propagation, its pods; the pods get <paramref name="grace"/> to stop.</summary>
    public static async Task DeleteAsync(KubernetesCluster cluster, string name, TimeSpan grace, CancellationToken cancellationToken)
    {
        try
        {
            await cluster.Client.BatchV1.DeleteNamespacedJobAsync(name, cluster.Namespace,
                gracePeriodSeconds: (int)Math.Ceiling(grace.TotalSeconds), propagationPolicy: "Foreground", cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    private async Task<V1Job?> ReadJobAsync(CancellationToken cancellationToken)
    {
        try
        {
            var job = await cluster.Client.BatchV1.ReadNamespacedJobAsync(name, cluster.Namespace, cancellationToken: cancellationToken);
            return job.Metadata.DeletionTimestamp is null || Condition(job, "Complete") is not null || Condition(job, "Failed") is not null ? job : null;
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Waits (bounded) for the log stream to deliver the container's last lines, then reports the exit.</summary>
    private async Task<WorkloadExit> EndAsync(WorkloadExit exit)
    {
        if (_logTask is not null)
        {
            await Task.WhenAny(_logTask, Task.Delay(TimeSpan.FromSeconds(10), time));
        }

        return exit;
    }

    private async Task StreamLogsAsync(string pod, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await cluster.Client.CoreV1.ReadNamespacedPodLogAsync(pod, cluster.Namespace,
                container: KubernetesJobs.MainContainer, follow: true, cancellationToken: cancellationToken);
            using var reader = new StreamReader(stream);
            var seen = 0L;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (++seen > forwardedLines)
                {
                    await console.WriteAsync("stdout", line, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is HttpOperationException or HttpRequestException or IOException)
        {
            await console.WriteAsync("stderr", $"[liftoff agent] the log of pod {pod} ended early: {ex.Message}", CancellationToken.None);
        }
    }

    /// <summary>Why a pending pod is not running yet, when Kubernetes says.</summary>
    private static string? Pending(V1Pod? pod)
    {
        var waiting = pod?.Status?.ContainerStatuses?.Select(c => c.State?.Waiting).FirstOrDefault(w => w is not null && PullAndConfigReasons.Contains(w.Reason));
        if (waiting is not null)
        {
            return $"{waiting.Reason}: {waiting.Message}";
        }

        var unscheduled = pod?.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled" && c.Status == "False");
        return unscheduled is null ? null : $"{unscheduled.Reason}: {unscheduled.Message}";
    }

    private static WorkloadExit Failure(V1Pod? pod, V1ContainerStatus? main, V1JobCondition failed)
    {
        if (pod?.Status?.Reason == "Evicted")
        {
            return new WorkloadExit(137, $"the pod was evicted: {pod.Status.Message}", FailureClass: FailureClasses.Infrastructure);
        }

        if (main?.State?.Terminated is { } terminated)
        {
            return new WorkloadExit(terminated.ExitCode, terminated.Reason is null or "Error" or "Completed" ? null : $"{terminated.Reason}{(terminated.Message is null ? "" : ": " + terminated.Message)}");
        }

        return new WorkloadExit(1, $"Job failed: {failed.Reason}: {failed.Message}");
    }

    private static bool IsTransient(Exception ex) =>
        ex is HttpRequestException or IOException
        || ex is HttpOperationException { Response.StatusCode: HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError };

    private static V1JobCondition? Condition(V1Job job, string type) =>
        job.Status?.Conditions?.FirstOrDefault(c => c.Type == type && c.Status == "True");

    /// <summary>How often to read the Job, and how long a pod may stay pending.</summary>
    internal sealed record Options(TimeSpan Poll, TimeSpan PendingTimeout);
}
