namespace Liftoff.Core;

/// <summary>
/// Capped exponential backoff with jitter, the one used by every retry loop outside the HTTP client (which has its
/// own resilience pipeline): never a zero-delay retry, and processes that lost the server at the same moment do not
/// come back in lockstep.
/// </summary>
public sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _failures;

    /// <summary>200 ms doubling to 30 s: what the agent's loops use.</summary>
    public static Backoff Default() => new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));

    /// <summary>The delay before the next try: uniform in [base/2, base], base doubling per failure up to the cap.</summary>
    public TimeSpan Next() => Delay(_failures++, initial, max);

    public void Reset() => _failures = 0;

    /// <summary>The delay after <paramref name="failures"/> failures in a row (0 for the first retry), for loops that count their own.</summary>
    public static TimeSpan Delay(int failures, TimeSpan initial, TimeSpan max)
    {
        var ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Clamp(failures, 0, 30)));
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
    }
}
