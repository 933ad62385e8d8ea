using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Agent.Tests;

/// <summary>
/// A user of a real server with its own queue, jobs made from real code artifacts, and in-process agents
/// (<see cref="AgentWorker"/> with the local-process runner) that run them with real python.
/// </summary>
internal sealed class AgentHarness : IAsyncDisposable
{
    private readonly List<(ServiceProvider Services, CancellationTokenSource Stopping, CancellationTokenSource Shutdown, Task Run)> _agents = [];

    private AgentHarness(ServerFixture server, string key, string queue, TempDirectory work)
    {
        Server = server;
        Key = key;
        Queue = queue;
        Work = work;
        Client = server.Client(key);
    }

    public ServerFixture Server { get; }

    public string Key { get; }

    public string Queue { get; }

    public TempDirectory Work { get; }

    public LiftoffClient Client { get; }

    public const string Project = "agent-tests";

    public static async Task<AgentHarness> StartAsync(ServerFixture server, int maxAttempts = 3, string resource = Resources.LocalProcess, string? queueConfigJson = null,
        RetryPolicy? retryPolicy = null)
    {
        var key = await server.NewUserKeyAsync();
        var harness = new AgentHarness(server, key, "q" + Guid.NewGuid().ToString("N")[..8], new TempDirectory());
        var config = queueConfigJson is null ? (JsonElement?)null : JsonDocument.Parse(queueConfigJson).RootElement.Clone();
        await harness.Client.CreateQueueAsync(new CreateQueueRequest(harness.Queue, resource, config, MaxAttempts: maxAttempts, RetryPolicy: retryPolicy));
        return harness;
    }

    /// <summary>A job whose code is <paramref name="files"/> (path → content), uploaded as a code artifact.</summary>
    public async Task<string> CreateJobAsync(string name, IReadOnlyDictionary<string, string> files, IReadOnlyList<string> entrypoint, string? requirements = null)
    {
        using var code = new TempDirectory();
        foreach (var (path, content) in files)
        {
            code.File(path, content);
        }

        var artifact = await Client.UploadArtifactAsync(code.Path, Project, name + "-code", new ArtifactUploadOptions("code"));
        await Client.CreateJobAsync(new CreateJobRequest(Project, name, new JobDefinition(
            JobSourceTypes.Artifact,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }),
            entrypoint,
            Runtime: requirements is null ? null : new JobRuntime(Requirements: requirements))));
        return name;
    }

    public Task<ItemInfo> EnqueueAsync(string job, string? configJson = null, int? maxRunSeconds = null) =>
        Client.EnqueueAsync(Queue, new EnqueueRequest(job, Project, configJson is null ? null : JsonDocument.Parse(configJson).RootElement.Clone(), MaxRunSeconds: maxRunSeconds));

    public AgentOptions Options(int maxJobs = 1, bool drain = false, string name = "test-agent") => new()
    {
        Name = name,
        Queues = [Queue],
        MaxJobs = maxJobs,
        Drain = drain,
        WorkDirectory = Work.Path,
        ClaimWait = TimeSpan.FromSeconds(5),
        HeartbeatInterval = TimeSpan.FromMilliseconds(300),
        StopGracePeriod = TimeSpan.FromSeconds(2),
        Python = Python.Executable,
    };

    /// <summary>
    /// Starts an in-process agent; stop it with the returned tokens (first: stop, second: shut down at once).
    /// <paramref name="client"/> replaces its client to this harness's server (to put faults on the wire).
    /// </summary>
    public async Task<RunningAgent> StartAgentAsync(AgentOptions? options = null, Func<IServiceCollection, IServiceCollection>? runners = null, LiftoffClient? client = null)
    {
        var services = new ServiceCollection()
            .AddLogging(logging =>
            {
                // LIFTOFF_TEST_LOGS=1 shows the agents' logs when a test needs explaining.
                if (Environment.GetEnvironmentVariable("LIFTOFF_TEST_LOGS") == "1")
                {
                    logging.AddSimpleConsole(c => c.SingleLine = true);
                }
                else
                {
                    logging.AddFilter(_ => false);
                }
            })
            .AddLiftoffAgent(client ?? Server.Client(Key), options ??= Options());
        services = (runners ?? (s => s.AddTargetRunner(Resources.LocalProcess, options).AddTargetRunner(Resources.Docker, options)))(services);
        var provider = services.BuildServiceProvider();
        var worker = provider.GetRequiredService<AgentWorker>();
        var stopping = new CancellationTokenSource();
        var shutdown = new CancellationTokenSource();
        var run = Task.Run(() => worker.ExecuteAsync(stopping.Token, shutdown.Token));
        _agents.Add((provider, stopping, shutdown, run));
        var id = await worker.Registered.WaitAsync(TimeSpan.FromSeconds(30));
        return new RunningAgent(id, worker, stopping, shutdown, run);
    }

    public Task<ItemInfo> WaitForItemAsync(string id, Func<ItemInfo, bool> done, string what, int seconds = 60) =>
        Poll.UntilAsync(() => Client.GetItemAsync(id), done, TimeSpan.FromSeconds(seconds), what);

    public async Task<string> LogsAsync(string runId)
    {
        var lines = new List<string>();
        await foreach (var line in Client.ReadLogsAsync(runId))
        {
            lines.Add(line.Text);
        }

        return string.Join('\n', lines);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (services, stopping, shutdown, run) in _agents)
        {
            await stopping.CancelAsync();
            await shutdown.CancelAsync();
            try
            {
                await run.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (ex is OperationCanceledException or LiftoffException)
            {
                // Stopped while registering, or the test ended the server's interest in it: nothing left to stop.
            }

            await services.DisposeAsync();
            stopping.Dispose();
            shutdown.Dispose();
        }

        Client.Dispose();
        Work.Dispose();
    }
}

internal sealed record RunningAgent(string Id, AgentWorker Worker, CancellationTokenSource Stopping, CancellationTokenSource Shutdown, Task Run);

/// <summary>Whether a process is alive: a zombie (exited, not yet reaped by its new parent) is not.</summary>
internal static class Processes
{
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
