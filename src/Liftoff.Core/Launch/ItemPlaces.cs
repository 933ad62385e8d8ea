using System.Globalization;
using Liftoff.Contracts;

namespace Liftoff.Core.Launch;

/// <summary>Why a pending item waits, from its queue's state, what is ahead of it and the agents polling the queue (issue #17).</summary>
public static class ItemPlaces
{
    /// <summary>
    /// The item's place: <paramref name="ahead"/> claimable items come before it, <paramref name="higherAhead"/> of them of
    /// a higher priority; <paramref name="agents"/> are the agents polling the queue as callers see them (offline ones included).
    /// </summary>
    public static ItemPlace Of(string queue, bool paused, ItemRecord item, long ahead, long higherAhead, IReadOnlyList<AgentInfo> agents)
    {
        var position = ahead + 1;
        var line = $"{Ordinal(position)} in line on {queue}";
        if (paused)
        {
            return new ItemPlace(position, WaitReasons.QueuePaused, $"queue {queue} is paused; {line} once it resumes");
        }

        if (item.ClaimableAt is { } until)
        {
            return new ItemPlace(position, WaitReasons.BackingOff,
                $"backing off until {until.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)} after a failed attempt{(item.FailureClass is { } failure ? $" ({failure})" : "")}", until);
        }

        var live = agents.Where(a => a.State is AgentStates.Polling or AgentStates.Running && !a.StopRequested).ToList();
        if (live.Count == 0)
        {
            return new ItemPlace(position, WaitReasons.NoAgent, $"{line}; no agent polls {queue}");
        }

        var busy = live.Count(a => a.RunningItems >= a.MaxJobs);
        var polling = $"{live.Count} agent{(live.Count == 1 ? "" : "s")} polling, {(busy, live.Count) switch
        {
            (0, _) => "none busy",
            (1, 1) => "busy",
            (2, 2) => "both busy",
            var (b, n) when b == n => "all busy",
            var (b, n) => $"{n - b} free",
        }}";
        if (higherAhead > 0)
        {
            return new ItemPlace(position, WaitReasons.HigherPriority, $"{line}; {higherAhead} higher-priority item{(higherAhead == 1 ? "" : "s")} ahead; {polling}");
        }

        var reason = busy == live.Count ? WaitReasons.AgentsBusy : ahead > 0 ? WaitReasons.ItemsAhead : WaitReasons.Next;
        return new ItemPlace(position, reason, $"{line}; {polling}");
    }

    /// <summary>1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, …, 21st.</summary>
    public static string Ordinal(long n) => n.ToString(CultureInfo.InvariantCulture) + ((n % 100) is 11 or 12 or 13 ? "th" : (n % 10) switch
    {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    });
}
