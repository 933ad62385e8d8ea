using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Xunit;

namespace Liftoff.Core.Tests.Launch;

public sealed class ItemPlacesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly ItemRecord Pending = new("item_1", "gpu", "e", ItemStates.Pending, 2, 1, 3, "train", "{}", "p", null, "{}", "{}", "{}", null, null, null, null, null, T0, null, null, null, null, false);

    [Theory]
    [InlineData(1, "1st")]
    [InlineData(2, "2nd")]
    [InlineData(3, "3rd")]
    [InlineData(4, "4th")]
    [InlineData(11, "11th")]
    [InlineData(12, "12th")]
    [InlineData(13, "13th")]
    [InlineData(21, "21st")]
    [InlineData(102, "102nd")]
    [InlineData(111, "111th")]
    public void Ordinal_SaysThePlaceAsPeopleDo(long n, string expected) => Assert.Equal(expected, ItemPlaces.Ordinal(n));

    [Fact]
    public void Of_TheFirstReasonThatHolds_PausedThenBackoffThenNoAgentThenHigherPriorityThenBusy()
    {
        var busy = Agent(AgentStates.Running, running: 1);
        var free = Agent(AgentStates.Polling, running: 0);
        var backingOff = Pending with { ClaimableAt = T0.AddMinutes(2), FailureClass = FailureClasses.Infrastructure };

        Assert.Equal(new ItemPlace(3, WaitReasons.QueuePaused, "queue gpu is paused; 3rd in line on gpu once it resumes"), ItemPlaces.Of("gpu", true, backingOff, 2, 1, [busy]));
        Assert.Equal(new ItemPlace(3, WaitReasons.BackingOff, "backing off until 2026-01-01 00:02:00Z after a failed attempt (infrastructure)", T0.AddMinutes(2)),
            ItemPlaces.Of("gpu", false, backingOff, 2, 1, [busy]));
        Assert.Equal(WaitReasons.NoAgent, ItemPlaces.Of("gpu", false, Pending, 2, 1, [Agent(AgentStates.Offline, 0), free with { StopRequested = true }]).Reason);
        Assert.Equal(new ItemPlace(3, WaitReasons.HigherPriority, "3rd in line on gpu; 2 higher-priority items ahead; 2 agents polling, both busy"), ItemPlaces.Of("gpu", false, Pending, 2, 2, [busy, busy]));
        Assert.Equal(new ItemPlace(2, WaitReasons.AgentsBusy, "2nd in line on gpu; 3 agents polling, all busy"), ItemPlaces.Of("gpu", false, Pending, 1, 0, [busy, busy, busy]));
        Assert.Equal(new ItemPlace(2, WaitReasons.ItemsAhead, "2nd in line on gpu; 2 agents polling, 1 free"), ItemPlaces.Of("gpu", false, Pending, 1, 0, [busy, free]));
        Assert.Equal(new ItemPlace(1, WaitReasons.Next, "1st in line on gpu; 1 agent polling, none busy"), ItemPlaces.Of("gpu", false, Pending, 0, 0, [free]));
    }

    private static AgentInfo Agent(string state, int running) => new("agent_1", "a", "e", ["gpu"], null, null, 1, state, running, T0, T0, false);
}
