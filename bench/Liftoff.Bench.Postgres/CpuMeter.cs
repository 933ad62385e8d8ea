using System.Diagnostics;
using System.Globalization;

namespace Liftoff.Bench.Postgres;

/// <summary>
/// CPU time spent by this process (servers and bench clients), by PostgreSQL's processes and by haproxy, read from
/// /proc: what one request costs each tier. PostgreSQL's processes are counted by name, so another user of the same
/// cluster during a measurement would be counted too.
/// </summary>
internal readonly record struct CpuMeter(TimeSpan Self, TimeSpan Postgres, TimeSpan Balancer)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    public static CpuMeter Read()
    {
        var postgres = TimeSpan.Zero;
        var balancer = TimeSpan.Zero;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out _))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // the process ended meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            // pid (comm) state ... : comm may hold spaces, so the fields are counted from its closing parenthesis.
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            var name = stat[(open + 1)..close];
            if (name is not ("postgres" or "haproxy"))
            {
                continue;
            }

            var fields = stat[(close + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            var time = TimeSpan.FromSeconds(ticks / TicksPerSecond);
            if (name == "postgres")
            {
                postgres += time;
            }
            else
            {
                balancer += time;
            }
        }

        return new CpuMeter(Process.GetCurrentProcess().TotalProcessorTime, postgres, balancer);
    }

    public static CpuMeter operator -(CpuMeter after, CpuMeter before) =>
        new(after.Self - before.Self, after.Postgres - before.Postgres, after.Balancer - before.Balancer);
}
