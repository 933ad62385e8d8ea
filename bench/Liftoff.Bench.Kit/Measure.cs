using System.Globalization;

namespace Liftoff.Bench.Kit;

/// <summary>Timestamps and summaries the harnesses print the same way.</summary>
public static class Measure
{
    /// <summary>Seconds since the Unix epoch: what a launched job's stamp file records, so both sides compare.</summary>
    public static double UnixNow() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds;

    public static string Ms(double seconds) => (seconds * 1000).ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    /// <summary>The nearest-rank percentile <paramref name="p"/> (0-100) of <paramref name="values"/>.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
