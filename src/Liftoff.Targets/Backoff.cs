namespace Liftoff.Targets;

/// <summary>
/// Capped exponential backoff with full jitter for retry loops: never a zero-delay retry, and agents that lost the
/// server at the same moment do not come back in lockstep.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _failures;

    public static Backoff Default() => new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));

    /// <summary>The delay before the next try: uniform in [base/2, base], base doubling per failure up to the cap.</summary>
    public TimeSpan Next()
    {
        var exponent = Math.Min(_failures++, 20);
        var ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
    }

    public void Reset() => _failures = 0;
}
