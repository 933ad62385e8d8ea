using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Core.Runs;
using Liftoff.Server.Hosting;
using Liftoff.Testing;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

/// <summary>Claims whose run id is taken: a server of their own, whose run ids the test chooses.</summary>
public sealed class ClaimCollisionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Claim_WhenTheRunIdCollides_RetriesWithAFreshIdAndHandsOutTheItem(bool postgres)
    {
        using var data = new TempDirectory();
        await using var schema = postgres ? await PostgresSchema.CreateAsync() : null;
        var ids = new Queue<string>(["taken-id", "taken-id", "fresh-id"]);
        var picked = new List<string>();
        var options = new ServerOptions
        {
            DataDirectory = data.Path,
            Database = schema?.ConnectionString,
            Port = 0,
            NewRunId = () =>
            {
                lock (picked)
                {
                    picked.Add(ids.Count > 0 ? ids.Dequeue() : RunIds.NewId());
                    return picked[^1];
                }
            },
        };
        await using var server = await LiftoffServer.StartAsync(options, logging => logging.AddFilter(_ => false));
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, server.InitialAdminKey!));
        await client.CreateQueueAsync(new CreateQueueRequest("q", Resources.LocalProcess));
        using (var http = new HttpClient { BaseAddress = server.BaseUrl })
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", server.InitialAdminKey);
            await TestJobs.CreateRepoJobAsync(http, "p", "train");
        }

        var taken = await client.InitRunAsync(new InitRunRequest("p", Id: "taken-id"));
        var item = await client.EnqueueAsync("q", new EnqueueRequest("train", "p"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a", ["q"]));

        var claim = await client.ClaimAsync(agent.Id, TimeSpan.Zero);

        Assert.NotNull(claim);
        Assert.Equal(item.Id, claim.Item.Id);
        Assert.Equal("fresh-id", claim.Spec.RunId);
        Assert.Equal(["taken-id", "taken-id", "fresh-id"], picked);
        Assert.Equal(RunStates.Pending, (await client.GetRunAsync("fresh-id")).State);
        var untouched = await client.GetRunAsync(taken.Id);
        Assert.Equal(RunStates.Running, untouched.State);
        Assert.Null(untouched.ItemId);
    }
}
