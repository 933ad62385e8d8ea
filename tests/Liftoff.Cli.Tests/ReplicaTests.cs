using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary>
/// Three real <c>liftoff server</c> replicas on one PostgreSQL database and one S3-compatible bucket (s3rver), behind haproxy on
/// loopback, with four real agents and clients that only know the balancer's address.
/// </summary>
public sealed class ReplicaTests
{
    private const string Project = "replicas";
    private const string Queue = "work";

    [Fact]
    public async Task ThreeReplicasBehindABalancer_RunEveryItemOnce_AndLoseNothingWhenOneIsKilled()
    {
        using var home = new TempDirectory();
        await using var schema = await PostgresSchema.CreateAsync();
        var cli = new Cli(home.Path);
        await using var bucket = await S3rver.StartAsync();
        await using var replicas = new ReplicaSet(cli, schema.ConnectionString, bucket, Path.Combine(home.Path, "replicas"));
        var key = (await replicas.StartAsync(createsAdmin: true))!;
        await replicas.StartAsync();
        await replicas.StartAsync();
        await using var balancer = await LoadBalancer.StartAsync(replicas.Urls);
        using var client = new LiftoffClient(new LiftoffSettings(balancer.BaseUrl, key) { RetryFor = TimeSpan.FromMinutes(1) });

        // The job's code goes up to the bucket and comes down to the agents by whichever replica they reach: one blob store.
        var stamps = Directory.CreateDirectory(Path.Combine(home.Path, "stamps")).FullName;
        var code = Directory.CreateDirectory(Path.Combine(home.Path, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), $"""
            import os
            import liftoff
            liftoff.init()
            with open(os.path.join({JsonSerializer.Serialize(stamps)}, os.environ["LIFTOFF_ITEM_ID"]), "a") as f:
                f.write(os.environ["LIFTOFF_RUN_ID"] + "\n")
            liftoff.finish()
            """);
        var artifact = await client.UploadArtifactAsync(code, Project, "stamp-code", new ArtifactUploadOptions("code"));
        await client.CreateJobAsync(new CreateJobRequest(Project, "stamp", new JobDefinition(JobSourceTypes.Artifact,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }), ["python", "train.py"])));
        await client.CreateQueueAsync(new CreateQueueRequest(Queue, Resources.LocalProcess));
        await client.CreateQueueAsync(new CreateQueueRequest("poll", Resources.LocalProcess));

        await LongPollOnOneReplica_IsWokenByAnEnqueueOnAnother(replicas, key);

        var agents = Enumerable.Range(0, 4).Select(i => AgentProcess.Start(balancer.BaseUrl, key,
            "--queue", Queue, "--name", $"agent-{i}", "--max-jobs", "2", "--work-dir", Path.Combine(home.Path, $"work-{i}"))).ToList();
        try
        {
            var acknowledged = new ConcurrentDictionary<string, string>();
            await EnqueueAsync(balancer.BaseUrl, key, Enumerable.Range(0, 40).Select(i => $"before-{i}"), acknowledged);
            await Poll.UntilAsync(() => Task.FromResult(Directory.GetFiles(stamps).Length), n => n >= 10, TimeSpan.FromMinutes(2), "ten items to have run");

            await replicas.KillAsync(1);
            await EnqueueAsync(balancer.BaseUrl, key, Enumerable.Range(0, 40).Select(i => $"after-{i}"), acknowledged);

            Assert.Equal(80, acknowledged.Count);
            foreach (var (idempotencyKey, itemId) in acknowledged)
            {
                var item = await Poll.UntilAsync(() => client.GetItemAsync(itemId), i => i.State is ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled,
                    TimeSpan.FromMinutes(3), $"item {itemId} ({idempotencyKey}) to end; agents:\n{string.Join("\n", agents.Select((a, i) => $"--- agent-{i}\n{a.Output}"))}");
                Assert.True(item.State == ItemStates.Finished, $"{itemId}: {item.State} {item.Error}");
                var lines = await File.ReadAllLinesAsync(Path.Combine(stamps, itemId));
                Assert.Equal([item.RunId!], lines);
            }

            Assert.Equal(80, Directory.GetFiles(stamps).Length);
            Assert.Equal(80, (await client.ListItemsAsync(Queue, limit: 1000)).Items.Count);
            Assert.All(agents.Index(), a => Assert.False(a.Item.Process.HasExited, $"agent-{a.Index} exited: {a.Item.Output}"));
            Assert.Equal(4, (await client.ListAgentsAsync()).Agents.Count(a => a.Name.StartsWith("agent-", StringComparison.Ordinal) && a.State != AgentStates.Stopped));
        }
        finally
        {
            foreach (var agent in agents)
            {
                agent.Dispose();
            }
        }

        await PythonSdk_ReportsARunThroughTheBalancer(balancer.BaseUrl, key, client);
        await WebApp_SessionWorksOnEveryReplica(balancer.BaseUrl, key);
    }

    /// <summary>An agent long-polling replica 0 is handed an item enqueued on replica 2 (woken by PostgreSQL's NOTIFY).</summary>
    private static async Task LongPollOnOneReplica_IsWokenByAnEnqueueOnAnother(ReplicaSet replicas, string key)
    {
        using var first = new LiftoffClient(new LiftoffSettings(replicas.Urls[0], key));
        using var third = new LiftoffClient(new LiftoffSettings(replicas.Urls[2], key));
        var agent = await first.RegisterAgentAsync(new RegisterAgentRequest("poller", ["poll"]));
        var claim = first.ClaimAsync(agent.Id, TimeSpan.FromSeconds(50));
        var item = await third.EnqueueAsync("poll", new EnqueueRequest("stamp", Project));
        var claimed = await claim;
        Assert.NotNull(claimed);
        Assert.Equal(item.Id, claimed.Item.Id);
        await first.ReportItemAsync(item.Id, new ItemProgressRequest(claimed.Spec.Attempt, ItemStates.Failed, Message: "claimed only to see the long poll work"));
        await first.StopAgentAsync(agent.Id);
    }

    /// <summary>Four clients enqueueing at once through the balancer, each item with an idempotency key, retried as the client does.</summary>
    private static Task EnqueueAsync(Uri balancer, string key, IEnumerable<string> keys, ConcurrentDictionary<string, string> acknowledged) =>
        Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (k, ct) =>
        {
            using var client = new LiftoffClient(new LiftoffSettings(balancer, key) { RetryFor = TimeSpan.FromMinutes(1) });
            var item = await client.EnqueueAsync(Queue, new EnqueueRequest("stamp", Project, IdempotencyKey: k), ct);
            Assert.True(acknowledged.TryAdd(k, item.Id), $"idempotency key {k} was acknowledged twice");
        });

    private static async Task PythonSdk_ReportsARunThroughTheBalancer(Uri balancer, string key, LiftoffClient client)
    {
        var result = await Python.RunAsync("""
            import liftoff
            run = liftoff.init(project="replicas", config={"lr": 0.1})
            for step in range(50):
                liftoff.log({"loss": 1 / (step + 1)})
            print(run.id)
            liftoff.finish()
            """, new Dictionary<string, string?> { ["LIFTOFF_BASE_URL"] = balancer.ToString(), ["LIFTOFF_API_KEY"] = key, ["LIFTOFF_CONSOLE"] = "off" });
        Assert.True(result.ExitCode == 0, result.ToString());
        var runId = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0];

        Assert.Equal(RunStates.Finished, (await client.GetRunAsync(runId)).State);
        var rows = new List<HistoryRow>();
        await foreach (var row in client.ReadHistoryAsync(runId))
        {
            rows.Add(row);
        }

        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), rows.Select(r => r.Step));
    }

    /// <summary>The web app's page, and a session made on one replica and used on the others (sessions live in the database).</summary>
    private static async Task WebApp_SessionWorksOnEveryReplica(Uri balancer, string key)
    {
        using var handler = new HttpClientHandler { UseCookies = true };
        using var http = new HttpClient(handler) { BaseAddress = balancer };
        var page = await http.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Contains("<html", page, StringComparison.OrdinalIgnoreCase);

        using var signIn = await http.PostAsJsonAsync(new Uri("/web/session", UriKind.Relative), new { key });
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var csrf = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf_token").GetString()!;
        for (var i = 0; i < 6; i++)
        {
            using var viewer = await http.GetAsync(new Uri("/api/v1/viewer", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, viewer.StatusCode);
        }

        using var signOut = new HttpRequestMessage(HttpMethod.Delete, new Uri("/web/session", UriKind.Relative));
        signOut.Headers.Add("X-Liftoff-Csrf", csrf);
        using var signedOut = await http.SendAsync(signOut);
        Assert.Equal(HttpStatusCode.NoContent, signedOut.StatusCode);
    }
}
