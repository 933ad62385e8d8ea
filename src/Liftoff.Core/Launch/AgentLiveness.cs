using Liftoff.Contracts;

namespace Liftoff.Core.Launch;

/// <summary>
/// Whether an agent is still there. An agent that dies (SIGKILL, a lost host) cannot say so, and its stored state stays
/// what it last reported; it counts as offline once it has missed <see cref="MissedHeartbeats"/> heartbeat intervals.
/// </summary>
public static class AgentLiveness
{
    public const int MissedHeartbeats = 3;

    /// <summary>
    /// The longest an agent waits between heartbeats: it renews its items' leases at least three times per lease, so a
    /// third of the lease the server grants (a shorter configured interval only makes it beat more often).
    /// </summary>
    public static TimeSpan HeartbeatInterval(TimeSpan itemLease) => itemLease / 3;

    /// <summary>The state to show: the reported one, or <see cref="AgentStates.Offline"/> for a silent agent that never said it stopped.</summary>
    public static string State(string reported, DateTimeOffset lastHeartbeat, DateTimeOffset now, TimeSpan heartbeatInterval) =>
        reported != AgentStates.Stopped && now - lastHeartbeat > MissedHeartbeats * heartbeatInterval ? AgentStates.Offline : reported;
}
