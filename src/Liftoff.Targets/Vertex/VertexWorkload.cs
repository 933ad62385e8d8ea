using System.Text.Json.Nodes;

namespace Liftoff.Targets.Vertex;

/// <summary>
/// One custom job, watched by polling customJobs.get; its Cloud Logging entries (<c>resource.type="ml_job"</c>,
/// <c>resource.labels.job_id</c>) are read with entries:list into the run's console. JOB_STATE_SUCCEEDED ends with exit
/// code 0, FAILED and EXPIRED with 1 and the job's error, CANCELLED with 143.
/// </summary>
internal sealed class VertexWorkload(string name, VertexClient client, RunConsole? console, TimeProvider time) : ILaunchedWorkload
{
    private static readonly string[] Going = ["JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING", "JOB_STATE_PAUSED", "JOB_STATE_UPDATING"];

    private readonly HashSet<string> _seenAtLast = new(StringComparer.Ordinal);
    private string? _lastTimestamp;

    private string JobId => name[(name.LastIndexOf('/') + 1)..];

    public async Task<WorkloadExit> WaitForExitAsync(CancellationToken cancellationToken)
    {
        string? lastState = null;
        var backoff = Backoff.Default();
        while (true)
        {
            JsonObject job;
            try
            {
                job = await client.GetCustomJobAsync(name, cancellationToken);
                await ReadLogsAsync(cancellationToken);
                backoff.Reset();
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                // Quota (429), a 5xx or a lost connection: the job goes on regardless, so keep watching it.
                await Task.Delay(backoff.Next(), time, cancellationToken);
                continue;
            }

            var state = (string?)job["state"] ?? "JOB_STATE_UNSPECIFIED";
            if (state != lastState && console is not null)
            {
                await console.WriteAsync("stderr", $"[liftoff agent] Vertex AI custom job {JobId}: {state}", cancellationToken);
                lastState = state;
            }

            var error = (string?)job["error"]?["message"];
            switch (state)
            {
                case "JOB_STATE_SUCCEEDED":
                    return new WorkloadExit(0);
                case "JOB_STATE_FAILED" or "JOB_STATE_EXPIRED" or "JOB_STATE_PARTIALLY_SUCCEEDED":
                    return new WorkloadExit(1, $"Vertex AI: {state}: {error ?? "the custom job failed"}");
                case "JOB_STATE_CANCELLED":
                    return new WorkloadExit(143, "Vertex AI cancelled the custom job");
                default:
                    await Task.Delay(client.PollInterval, time, cancellationToken);
                    break;
            }
        }
    }

    private static bool IsTransient(Exception ex) => ex switch
    {
        VertexException google => google.HttpStatus is 429 or >= 500,
        HttpRequestException or TaskCanceledException => true,
        _ => false,
    };

    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        var job = await client.GetCustomJobAsync(name, cancellationToken);
        if (!Going.Contains((string?)job["state"]))
        {
            return;
        }

        try
        {
            await client.CancelCustomJobAsync(name, cancellationToken);
        }
        catch (VertexException ex) when (ex.Status == "FAILED_PRECONDITION")
        {
            // It ended between the get and the cancel.
        }

        while (true)
        {
            var state = (string?)(await client.GetCustomJobAsync(name, cancellationToken))["state"];
            if (!Going.Contains(state))
            {
                return;
            }

            await Task.Delay(client.PollInterval, time, cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task ReadLogsAsync(CancellationToken cancellationToken)
    {
        if (console is null)
        {
            return;
        }

        // Entries come oldest first; from the last timestamp seen on, skipping the entries already shown at that instant.
        var filter = $"resource.type=\"ml_job\" AND resource.labels.job_id=\"{JobId}\""
            + (_lastTimestamp is null ? "" : $" AND timestamp>=\"{_lastTimestamp}\"");
        string? page = null;
        do
        {
            var listed = await client.ListLogEntriesAsync(filter, page, cancellationToken);
            foreach (var entry in (listed["entries"]?.AsArray() ?? []).OfType<JsonObject>())
            {
                var timestamp = (string?)entry["timestamp"] ?? "";
                var id = (string?)entry["insertId"] ?? "";
                if (timestamp != _lastTimestamp)
                {
                    _lastTimestamp = timestamp;
                    _seenAtLast.Clear();
                }

                if (!_seenAtLast.Add(id))
                {
                    continue;
                }

                var text = (string?)entry["textPayload"] ?? (string?)entry["jsonPayload"]?["message"] ?? entry["jsonPayload"]?.ToJsonString() ?? "";
                var stream = (string?)entry["severity"] is "ERROR" or "CRITICAL" or "ALERT" or "EMERGENCY" ? "stderr" : "stdout";
                await console.WriteAsync(stream, text, cancellationToken);
            }

            page = (string?)listed["nextPageToken"] is { Length: > 0 } next ? next : null;
        }
        while (page is not null);
    }
}
