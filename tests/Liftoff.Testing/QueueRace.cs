using System.Collections.Concurrent;
using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Testing;

/// <summary>Agents racing for one queue through the API: the exactly-once check every store backend must pass.</summary>
public static class QueueRace
{
    /// <summary>Enqueues <paramref name="items"/> launches of job <c>train</c> (project <c>p</c>) on queue <c>q</c>, then lets
    /// <paramref name="agents"/> agents claim and finish until the queue is empty. Returns what was enqueued and claimed.</summary>
    public static async Task<(IReadOnlyList<string> Enqueued, IReadOnlyList<string> Claimed)> RunAsync(LiftoffClient client, int items, int agents)
    {
        var enqueued = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, items), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
            enqueued.Add((await client.EnqueueAsync("q", new EnqueueRequest("train", "p"), ct)).Id));
        var claimed = new ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, agents).Select(async n =>
        {
            var agent = await client.RegisterAgentAsync(new RegisterAgentRequest($"racer{n}", ["q"]));
            while (await client.ClaimAsync(agent.Id, TimeSpan.Zero) is { } claim)
            {
                claimed.Add(claim.Item.Id);
                await client.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(claim.Spec.Attempt, "finished"));
            }
        }));
        return ([.. enqueued.Order()], [.. claimed.Order()]);
    }
}
