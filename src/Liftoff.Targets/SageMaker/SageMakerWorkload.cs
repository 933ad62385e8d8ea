using System.Text.Json.Nodes;

namespace Liftoff.Targets.SageMaker;

/// <summary>
/// One training job, watched by polling DescribeTrainingJob; its CloudWatch log streams
/// (<c>/aws/sagemaker/TrainingJobs</c>, <c>{job}/algo-N-…</c>) are read with GetLogEvents into the run's console.
/// Completed ends with exit code 0, Failed with 1 and the FailureReason, Stopped with 143 (SageMaker stops a job with
/// SIGTERM, then SIGKILL after 120 s).
/// </summary>
internal sealed class SageMakerWorkload(string name, SageMakerClients clients, RunConsole? console, TimeSpan pollInterval, TimeProvider time) : ILaunchedWorkload
{
    public const string LogGroup = "/aws/sagemaker/TrainingJobs";

    private readonly Dictionary<string, string?> _streamTokens = new(StringComparer.Ordinal);

    public async Task<WorkloadExit> WaitForExitAsync(CancellationToken cancellationToken)
    {
        string? lastSecondary = null;
        var backoff = Backoff.Default();
        while (true)
        {
            JsonObject job;
            try
            {
                job = await DescribeAsync(cancellationToken);
                await ReadLogsAsync(cancellationToken);
                backoff.Reset();
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                // Throttling, a 5xx or a lost connection: the job goes on regardless, so keep watching it.
                await Task.Delay(backoff.Next(), time, cancellationToken);
                continue;
            }

            var status = (string?)job["TrainingJobStatus"];
            var secondary = (string?)job["SecondaryStatus"];
            if (secondary != lastSecondary && console is not null)
            {
                await console.WriteAsync("stderr", $"[liftoff agent] SageMaker training job {name}: {status} / {secondary}", cancellationToken);
                lastSecondary = secondary;
            }

            switch (status)
            {
                case "Completed":
                    return new WorkloadExit(0);
                case "Failed":
                    return new WorkloadExit(1, $"SageMaker: {(string?)job["FailureReason"] ?? "the training job failed"}");
                case "Stopped":
                    return new WorkloadExit(143, "SageMaker stopped the training job");
                default:
                    await Task.Delay(pollInterval, time, cancellationToken);
                    break;
            }
        }
    }

    /// <summary>Errors worth retrying: AWS's throttling codes, server errors, and failures to reach the endpoint.</summary>
    private static bool IsTransient(Exception ex) => ex switch
    {
        AwsException aws => aws.Status >= 500 || aws.Type is "ThrottlingException" or "Throttling" or "ThrottledException" or "RequestLimitExceeded",
        HttpRequestException or TaskCanceledException => true,
        _ => false,
    };

    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        var job = await DescribeAsync(cancellationToken);
        if ((string?)job["TrainingJobStatus"] is not ("InProgress" or "Stopping"))
        {
            return;
        }

        try
        {
            await clients.SageMaker.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = name }, cancellationToken);
        }
        catch (AwsException ex) when (ex.Type == "ValidationException")
        {
            // It ended between the describe and the stop.
        }

        while ((string?)(await DescribeAsync(cancellationToken))["TrainingJobStatus"] is "InProgress" or "Stopping")
        {
            await Task.Delay(pollInterval, time, cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<JsonObject> DescribeAsync(CancellationToken cancellationToken) =>
        clients.SageMaker.CallAsync("DescribeTrainingJob", new JsonObject { ["TrainingJobName"] = name }, cancellationToken);

    private async Task ReadLogsAsync(CancellationToken cancellationToken)
    {
        if (console is null)
        {
            return;
        }

        JsonObject streams;
        try
        {
            streams = await clients.Logs.CallAsync("DescribeLogStreams", new JsonObject
            {
                ["logGroupName"] = LogGroup,
                ["logStreamNamePrefix"] = name + "/",
            }, cancellationToken);
        }
        catch (AwsException ex) when (ex.Type == "ResourceNotFoundException")
        {
            // The log group appears with the first job that logs in the account.
            return;
        }

        foreach (var stream in streams["logStreams"]?.AsArray() ?? [])
        {
            var streamName = (string)stream!["logStreamName"]!;
            while (true)
            {
                var request = new JsonObject { ["logGroupName"] = LogGroup, ["logStreamName"] = streamName, ["startFromHead"] = true };
                if (_streamTokens.GetValueOrDefault(streamName) is { } token)
                {
                    request["nextToken"] = token;
                }

                var events = await clients.Logs.CallAsync("GetLogEvents", request, cancellationToken);
                foreach (var e in events["events"]?.AsArray() ?? [])
                {
                    await console.WriteAsync("stdout", (string?)e!["message"] ?? "", cancellationToken);
                }

                var next = (string?)events["nextForwardToken"];
                var previous = _streamTokens.GetValueOrDefault(streamName);
                _streamTokens[streamName] = next;
                // GetLogEvents returns the token it was given once a stream has nothing newer.
                if (next is null || next == previous)
                {
                    break;
                }
            }
        }
    }
}
