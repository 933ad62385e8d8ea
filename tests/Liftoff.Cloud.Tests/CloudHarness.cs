using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;

namespace Liftoff.Cloud.Tests;

/// <summary>
/// A user of a real server with a queue on a cloud target, an image job whose entrypoint is a real Python training
/// script using the SDK, and real <c>liftoff agent</c> processes pointed at a stand-in through their config file.
/// </summary>
internal sealed class CloudHarness : IAsyncDisposable
{
    public const string Project = "cloud-tests";

    /// <summary>
    /// The training script: init, a line of output, a metric, then as the run config says: exit with <c>exit</c>, or wait
    /// for the file <c>release</c> to exist first.
    /// </summary>
    public const string TrainScript = """
        import os, sys, time
        import liftoff
        run = liftoff.init()
        config = run.config
        print("training run", os.environ["LIFTOFF_RUN_ID"], "lr", config.get("lr"), flush=True)
        run.log({"loss": 0.25})
        release = config.get("release")
        while release and not os.path.exists(release):
            time.sleep(0.05)
        code = int(config.get("exit", 0))
        if code:
            print("diverged: loss is nan", file=sys.stderr, flush=True)
        run.finish(exit_code=code)
        sys.exit(code)
        """;

    private readonly List<AgentProcess> _agents = [];

    private CloudHarness(ServerFixture server, string key, TempDirectory work)
    {
        Server = server;
        Key = key;
        Work = work;
        Client = server.Client(key);
    }

    public ServerFixture Server { get; }

    public string Key { get; }

    public TempDirectory Work { get; }

    public LiftoffClient Client { get; }

    public string Queue { get; } = "q" + Guid.NewGuid().ToString("N")[..8];

    public string Job { get; } = "train-" + Guid.NewGuid().ToString("N")[..6];

    /// <summary>The stand-in the agents talk to, whose state a timeout reports.</summary>
    public StandInHost? StandIn { get; set; }

    public static async Task<CloudHarness> StartAsync(ServerFixture server, string resource, string queueConfig)
    {
        var harness = new CloudHarness(server, await server.NewUserKeyAsync(), new TempDirectory());
        await harness.Client.CreateQueueAsync(new CreateQueueRequest(harness.Queue, resource, JsonDocument.Parse(queueConfig).RootElement.Clone(), MaxAttempts: 1));
        await harness.Client.CreateJobAsync(new CreateJobRequest(Project, harness.Job, new JobDefinition(
            JobSourceTypes.Image,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["image"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1" }),
            [Python.Executable, "-c", TrainScript])));
        return harness;
    }

    public Task<ItemInfo> EnqueueAsync(string configJson, string? resourceArgs = null) =>
        Client.EnqueueAsync(Queue, new EnqueueRequest(Job, Project, JsonDocument.Parse(configJson).RootElement.Clone(),
            resourceArgs is null ? null : JsonDocument.Parse(resourceArgs).RootElement.Clone()));

    public AgentProcess StartAgent(string config, IReadOnlyDictionary<string, string?> environment)
    {
        var file = Work.File($"agent-{_agents.Count}.yaml", config);
        var agent = AgentProcess.Start(Server.BaseUrl, Key, environment, "--config", file);
        _agents.Add(agent);
        return agent;
    }

    public async Task<ItemInfo> WaitForItemAsync(string id, Func<ItemInfo, bool> done, string what, int seconds = 60)
    {
        try
        {
            return await Poll.UntilAsync(() => Client.GetItemAsync(id), done, TimeSpan.FromSeconds(seconds), what);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\nthe agents' output:\n{AgentOutput()}\nthe stand-in:\n{StandIn?.Dump()}", ex);
        }
    }

    public async Task<string> LogsAsync(string runId)
    {
        var lines = new List<string>();
        await foreach (var line in Client.ReadLogsAsync(runId))
        {
            lines.Add(line.Text);
        }

        return string.Join('\n', lines);
    }

    public string AgentOutput() => string.Join("\n---\n", _agents.Select(a => a.Output));

    public ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            agent.Dispose();
        }

        Client.Dispose();
        Work.Dispose();
        return ValueTask.CompletedTask;
    }
}
