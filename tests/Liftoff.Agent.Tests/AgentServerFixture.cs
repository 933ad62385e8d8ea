using Liftoff.Testing;

namespace Liftoff.Agent.Tests;

/// <summary>
/// A server whose leases lapse after five seconds: short enough that lease-expiry tests finish quickly, long enough
/// that agents on a loaded two-core machine (tests in parallel, a CLI agent starting up) never miss one by accident.
/// </summary>
public sealed class AgentServerFixture : ServerFixture
{
    protected override TimeSpan ItemLease => TimeSpan.FromSeconds(5);
}
