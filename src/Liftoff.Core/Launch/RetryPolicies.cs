using System.Globalization;
using System.Text.Json;
using Liftoff.Contracts;

namespace Liftoff.Core.Launch;

/// <summary>
/// Retry policies (issue #17): a queue's, completed with the defaults; an item's, which may only narrow the queue's
/// (fewer attempts, a subset of its exit codes, a longer backoff); and the backoff before a retried attempt.
/// </summary>
public static class RetryPolicies
{
    public const int MaxAttemptsPerClass = 100;
    public const double MaxBackoffSeconds = 7 * 24 * 3600;

    /// <summary>What a queue that says nothing gets: infrastructure failures and preemptions retried, the job's own failures not.</summary>
    public static readonly RetryPolicy Default = new(
        new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [FailureClasses.Infrastructure] = 3,
            [FailureClasses.Preemption] = 5,
            [FailureClasses.User] = 0,
            [FailureClasses.Config] = 0,
            [FailureClasses.Timeout] = 0,
        },
        [137, 143],
        new BackoffPolicy(InitialSeconds: 10, MaxSeconds: 600, Jitter: 0.5));

    /// <summary>The shape and ranges of a policy as given (a queue's or an item's), each error naming its field under <paramref name="field"/>.</summary>
    public static IReadOnlyList<FieldError> Validate(RetryPolicy policy, string field)
    {
        var errors = new List<FieldError>();
        foreach (var (name, attempts) in policy.Attempts ?? new Dictionary<string, int>())
        {
            if (!FailureClasses.Retryable.Contains(name))
            {
                errors.Add(new($"{field}.attempts.{name}", $"'{name}' is not a retryable failure class: {string.Join(", ", FailureClasses.Retryable)}"));
            }
            else if (attempts is < 0 or > MaxAttemptsPerClass)
            {
                errors.Add(new($"{field}.attempts.{name}", $"attempts per class are 0 to {MaxAttemptsPerClass}"));
            }
        }

        foreach (var (code, i) in (policy.RetryOnExitCodes ?? []).Select((c, i) => (c, i)))
        {
            if (code is < 1 or > 255)
            {
                errors.Add(new($"{field}.retry_on_exit_codes[{i}]", "an exit code to retry is 1 to 255"));
            }
        }

        if (policy.Backoff is { } backoff)
        {
            if (backoff.InitialSeconds is { } initial && !(initial is > 0 and <= MaxBackoffSeconds))
            {
                errors.Add(new($"{field}.backoff.initial_seconds", $"initial_seconds is more than 0 and at most {MaxBackoffSeconds:0}"));
            }

            if (backoff.MaxSeconds is { } max && !(max is > 0 and <= MaxBackoffSeconds))
            {
                errors.Add(new($"{field}.backoff.max_seconds", $"max_seconds is more than 0 and at most {MaxBackoffSeconds:0}"));
            }
            else if (backoff.MaxSeconds is { } cap && backoff.InitialSeconds is { } first && cap < first)
            {
                errors.Add(new($"{field}.backoff.max_seconds", "max_seconds is at least initial_seconds"));
            }

            if (backoff.Jitter is { } jitter && !(jitter is >= 0 and <= 1))
            {
                errors.Add(new($"{field}.backoff.jitter", "jitter is 0 to 1 (the share of a delay taken off at random)"));
            }
        }

        return errors;
    }

    /// <summary><paramref name="given"/> over <paramref name="basis"/>: what it names replaces, what it leaves out is kept.</summary>
    public static RetryPolicy Over(RetryPolicy basis, RetryPolicy? given)
    {
        if (given is null)
        {
            return basis;
        }

        var attempts = new Dictionary<string, int>(basis.Attempts ?? new Dictionary<string, int>(), StringComparer.Ordinal);
        foreach (var (name, count) in given.Attempts ?? new Dictionary<string, int>())
        {
            attempts[name] = count;
        }

        var (b, g) = (basis.Backoff ?? new BackoffPolicy(), given.Backoff ?? new BackoffPolicy());
        return new RetryPolicy(attempts, given.RetryOnExitCodes ?? basis.RetryOnExitCodes,
            new BackoffPolicy(g.InitialSeconds ?? b.InitialSeconds, g.MaxSeconds ?? b.MaxSeconds, g.Jitter ?? b.Jitter));
    }

    /// <summary>
    /// Where an item's own policy asks for more than its queue's (complete) policy allows: more attempts of a class,
    /// an exit code the queue does not retry, or a shorter backoff (retrying faster than the queue's owner chose).
    /// </summary>
    public static IReadOnlyList<FieldError> CheckWithin(RetryPolicy item, RetryPolicy queue, string field)
    {
        var errors = new List<FieldError>();
        foreach (var (name, attempts) in item.Attempts ?? new Dictionary<string, int>())
        {
            var allowed = queue.Attempts?.GetValueOrDefault(name) ?? 0;
            if (attempts > allowed)
            {
                errors.Add(new($"{field}.attempts.{name}", $"the queue allows at most {allowed} {name} retries"));
            }
        }

        var codes = queue.RetryOnExitCodes ?? [];
        foreach (var (code, i) in (item.RetryOnExitCodes ?? []).Select((c, i) => (c, i)))
        {
            if (!codes.Contains(code))
            {
                errors.Add(new($"{field}.retry_on_exit_codes[{i}]", $"the queue does not retry exit code {code} (it retries {(codes.Count == 0 ? "none" : string.Join(", ", codes))})"));
            }
        }

        if (item.Backoff?.InitialSeconds is { } initial && initial < queue.Backoff!.InitialSeconds)
        {
            errors.Add(new($"{field}.backoff.initial_seconds", $"the queue's backoff starts at {queue.Backoff.InitialSeconds?.ToString(CultureInfo.InvariantCulture)} s; an item may only wait longer"));
        }

        if (item.Backoff?.MaxSeconds is { } max && max < queue.Backoff!.MaxSeconds)
        {
            errors.Add(new($"{field}.backoff.max_seconds", $"the queue's backoff goes up to {queue.Backoff.MaxSeconds?.ToString(CultureInfo.InvariantCulture)} s; an item may only wait longer"));
        }

        return errors;
    }

    /// <summary>
    /// The wait before retry number <paramref name="retry"/> (1 for the first): the initial delay doubling per retry up
    /// to the cap, less a random share (<paramref name="random"/> in [0, 1)) of the jitter, so that items failed by one
    /// outage do not all come back at once.
    /// </summary>
    public static TimeSpan Delay(BackoffPolicy backoff, int retry, double random)
    {
        var initial = backoff.InitialSeconds ?? Default.Backoff!.InitialSeconds!.Value;
        var max = Math.Max(initial, backoff.MaxSeconds ?? Default.Backoff!.MaxSeconds!.Value);
        var ceiling = Math.Min(max, initial * Math.Pow(2, Math.Clamp(retry - 1, 0, 40)));
        return TimeSpan.FromSeconds(ceiling * (1 - (backoff.Jitter ?? 0) * random));
    }

    /// <summary>The stored policy of an item (null on items enqueued before policies: the defaults).</summary>
    public static RetryPolicy Parse(string? json) =>
        json is null ? Default : JsonSerializer.Deserialize(json, LiftoffJsonContext.Default.RetryPolicy) ?? Default;

    public static string Serialize(RetryPolicy policy) => JsonSerializer.Serialize(policy, LiftoffJsonContext.Default.RetryPolicy);
}
