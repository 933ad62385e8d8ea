using Liftoff.Contracts;
using Liftoff.Core.Runs;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>What the web app needs of a store: sorted and filtered run pages, launch links, and sessions.</summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task ListRuns_SortedByAConfigNumber_PutsRunsWithoutItLastAndPagesByOffset()
    {
        var e = await NewEntityAsync("e");
        await CreateRunsAsync(e.Id, ("a", """{"lr":0.3}""", "{}"), ("b", """{"lr":0.1}""", "{}"), ("c", "{}", "{}"), ("d", """{"lr":0.2}""", "{}"));

        var ascending = await Runs.ListRunsAsync(Query(e.Id, sort: new RunSort(Config("lr"), false)), default);
        var descending = await Runs.ListRunsAsync(Query(e.Id, sort: new RunSort(Config("lr"), true), limit: 2, offset: 1, count: true), default);

        Assert.Equal(["b", "d", "a", "c"], ascending.Runs.Select(r => r.Id));
        Assert.Equal(["d", "b"], descending.Runs.Select(r => r.Id));
        Assert.Equal(4, descending.Total);
        Assert.Null(descending.NextBefore);
    }

    [Fact]
    public async Task ListRuns_SortedByNameStateOrDuration_OrdersByThatColumn()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "x") with { Name = "beta", State = RunStates.Running, HeartbeatAt = T0.AddSeconds(50) }, default);
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "y") with { Name = "alpha", State = RunStates.Finished, EndedAt = T0.AddSeconds(10) }, default);
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "z") with { Name = "gamma", State = RunStates.Failed, EndedAt = T0.AddSeconds(30) }, default);

        var byName = await Runs.ListRunsAsync(Query(e.Id, sort: new RunSort(RunField.Column(RunFieldKind.Name), false)), default);
        var byState = await Runs.ListRunsAsync(Query(e.Id, sort: new RunSort(RunField.Column(RunFieldKind.State), false)), default);
        var byDuration = await Runs.ListRunsAsync(Query(e.Id, sort: new RunSort(RunField.Column(RunFieldKind.Duration), true)), default);
        var oldestFirst = await Runs.ListRunsAsync(Query(e.Id, sort: new RunSort(RunField.Column(RunFieldKind.CreatedAt), false)), default);

        Assert.Equal(["y", "x", "z"], byName.Runs.Select(r => r.Id));
        Assert.Equal(["z", "y", "x"], byState.Runs.Select(r => r.Id));
        Assert.Equal(["x", "z", "y"], byDuration.Runs.Select(r => r.Id));
        Assert.Equal(["x", "y", "z"], oldestFirst.Runs.Select(r => r.Id));
    }

    [Fact]
    public async Task ListRuns_Filters_MatchOnlyValuesOfTheFiltersType()
    {
        var e = await NewEntityAsync("e");
        await CreateRunsAsync(e.Id,
            ("a", """{"lr":0.1,"opt":"adam","deep":{"layers":4}}""", """{"loss":0.5,"best":true}"""),
            ("b", """{"lr":0.01,"opt":"sgd","deep":{"layers":8}}""", """{"loss":0.2,"best":false}"""),
            ("c", """{"lr":"0.1","opt":"AdamW"}""", """{"loss":0.9}"""),
            ("d", "{}", "{}"));

        async Task<IEnumerable<string>> MatchAsync(params RunFilter[] filters) =>
            (await Runs.ListRunsAsync(Query(e.Id, filters: filters), default)).Runs.Select(r => r.Id).Order();

        Assert.Equal(["a"], await MatchAsync(new RunFilter(Config("lr"), RunFilterOperator.Equal, 0.1)));
        Assert.Equal(["c"], await MatchAsync(new RunFilter(Config("lr"), RunFilterOperator.Equal, "0.1")));
        Assert.Equal(["b"], await MatchAsync(new RunFilter(Config("lr"), RunFilterOperator.Less, 0.05)));
        Assert.Equal(["a", "b"], await MatchAsync(new RunFilter(Summary("loss"), RunFilterOperator.LessOrEqual, 0.5)));
        Assert.Equal(["b", "c"], await MatchAsync(new RunFilter(Config("opt"), RunFilterOperator.NotEqual, "adam")));
        Assert.Equal(["a", "c"], await MatchAsync(new RunFilter(Config("opt"), RunFilterOperator.Contains, "ADAM")));
        Assert.Equal(["a"], await MatchAsync(new RunFilter(Summary("best"), RunFilterOperator.Equal, true)));
        Assert.Equal(["b"], await MatchAsync(new RunFilter(new RunField(RunFieldKind.Config, ["deep", "layers"]), RunFilterOperator.Greater, 4.0)));
        Assert.Equal(["a"], await MatchAsync(
            new RunFilter(Summary("loss"), RunFilterOperator.GreaterOrEqual, 0.3),
            new RunFilter(RunField.Column(RunFieldKind.Name), RunFilterOperator.Contains, "NAME-A")));
        var counted = await Runs.ListRunsAsync(Query(e.Id, filters: [new RunFilter(Summary("loss"), RunFilterOperator.Greater, 0.1)], count: true, limit: 1), default);
        Assert.Equal(3, counted.Total);
    }

    [Fact]
    public async Task ListRuns_ByJobOrQueue_ReturnsTheRunsTheirItemsLaunched()
    {
        var e = await NewEntityAsync("e");
        var other = await NewEntityAsync("other");
        var q = await Queues.CreateQueueAsync(e.Id, NewQueue("q"), default);
        var r = await Queues.CreateQueueAsync(e.Id, NewQueue("r"), default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i1", "q") with { Job = "train:v0" }, default);
        await Queues.EnqueueAsync(e.Id, r.Id, NewItem("i2", "r") with { Job = "train:v1" }, default);
        await Queues.EnqueueAsync(e.Id, q.Id, NewItem("i3", "q") with { Job = "trainer:v0" }, default);
        var agent = await Queues.RegisterAgentAsync(e.Id, NewAgent("x", "q", "r"), default);
        var launched = new Dictionary<string, string>();
        while (await Queues.ClaimAsync(agent, [q.Id, r.Id], T0, T0.AddSeconds(30), Prepare, default) is { } claimed)
        {
            launched[claimed.Item.Id] = claimed.Run.Id;
        }

        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "byhand"), default);

        async Task<IEnumerable<string>> RunsAsync(string? job = null, string? queue = null) =>
            (await Runs.ListRunsAsync(Query(e.Id) with { Job = job, Queue = queue }, default)).Runs.Select(run => run.Id).Order();

        Assert.Equal(new[] { launched["i1"], launched["i2"] }.Order(), await RunsAsync(job: "train"));
        Assert.Equal([launched["i2"]], await RunsAsync(job: "train:v1"));
        Assert.Equal(new[] { launched["i1"], launched["i3"] }.Order(), await RunsAsync(queue: "q"));
        Assert.Equal([launched["i1"]], await RunsAsync(job: "train", queue: "q"));
        Assert.Empty((await Runs.ListRunsAsync(Query(other.Id) with { Job = "train" }, default)).Runs);

        var items = await Queues.FindItemsByRunsAsync(e.Id, [launched["i1"], launched["i2"], "byhand"], default);
        Assert.Equal(["i1", "i2"], items.Values.Select(i => i.Id).Order());
        Assert.Equal("i1", items[launched["i1"]].Id);
        Assert.Empty(await Queues.FindItemsByRunsAsync(other.Id, [launched["i1"]], default));
    }

    [Fact]
    public async Task FindSession_WhileUnexpiredAndItsKeyActive_ReturnsTheKeysPrincipal()
    {
        var (key, _) = ApiKeys.Create("laptop", T0);
        var entity = await Identities.CreateEntityAsync("web", admin: false, key, default);
        await Identities.CreateSessionAsync(new NewSession("hash1", key.Id, T0, T0.AddHours(1)), default);
        await Identities.CreateSessionAsync(new NewSession("hash2", key.Id, T0, T0.AddHours(1)), default);

        Assert.Equal(new KeyPrincipal(key.Id, entity.Id, "web", false), await Identities.FindSessionAsync("hash1", T0.AddMinutes(59), default));
        Assert.Null(await Identities.FindSessionAsync("hash1", T0.AddHours(1), default));
        Assert.Null(await Identities.FindSessionAsync("unknown", T0, default));

        await Identities.DeleteSessionAsync("hash1", default);
        Assert.Null(await Identities.FindSessionAsync("hash1", T0, default));
        Assert.NotNull(await Identities.FindSessionAsync("hash2", T0, default));

        await Identities.RevokeKeyAsync(entity.Id, key.Id, T0, default);
        Assert.Null(await Identities.FindSessionAsync("hash2", T0, default));
    }

    private static RunQuery Query(long entityId, RunSort? sort = null, IReadOnlyList<RunFilter>? filters = null, int limit = 100, int? offset = null, bool count = false) =>
        new(entityId, null, null, limit, null, sort, filters, offset, count);

    private static RunField Config(string key) => new(RunFieldKind.Config, [key]);

    private static RunField Summary(string key) => new(RunFieldKind.Summary, [key]);

    private async Task CreateRunsAsync(long entityId, params (string Id, string Config, string Summary)[] runs)
    {
        foreach (var (id, config, summary) in runs)
        {
            await Runs.TryCreateRunAsync(entityId, NewRun("e", id) with { ConfigJson = config, SummaryJson = summary }, default);
        }
    }
}
