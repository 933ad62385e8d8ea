using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Liftoff.Agent;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Hosting;
using Liftoff.Targets;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Bench.Queue;

/// <summary>A real server on SQLite in a temp directory, a user, a local-process queue, and the python the jobs run with.</summary>
internal sealed class QueueBench : IAsyncDisposable
{
    public const string Project = "bench";

    private readonly string _data;
    private readonly List<(ServiceProvider Services, CancellationTokenSource Stop, Task Run)> _agents = [];

    private QueueBench(LiftoffServer server, string data, string key, string python, string pythonVersion)
    {
        Server = server;
        _data = data;
        Key = key;
        Python = python;
        PythonVersion = pythonVersion;
    }

    public LiftoffServer Server { get; }

    public string Key { get; }

    /// <summary>The interpreter's real executable (a pyenv shim resolved through sys.executable).</summary>
    public string Python { get; }

    public string PythonVersion { get; }

    public string Scratch => Path.Combine(_data, "scratch");

    public string Database => Path.Combine(_data, "liftoff.db");

    public static async Task<QueueBench> StartAsync()
    {
        var data = Directory.CreateTempSubdirectory("liftoff-bench-queue-").FullName;
        Directory.CreateDirectory(Path.Combine(data, "scratch"));
        var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false));
        var probe = Process.Start(new ProcessStartInfo(Environment.GetEnvironmentVariable("LIFTOFF_BENCH_PYTHON") ?? "python3", ["-c", "import sys; print(sys.executable); print(sys.version.split()[0])"]) { RedirectStandardOutput = true })!;
        var lines = (await probe.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await probe.WaitForExitAsync();
        return new QueueBench(server, data, server.InitialAdminKey!, lines[0], lines[1]);
    }

    public LiftoffClient Client() => new(new LiftoffSettings(Server.BaseUrl, Key));

    public async Task CreateQueueAsync(string name)
    {
        using var client = Client();
        await client.CreateQueueAsync(new CreateQueueRequest(name, Resources.LocalProcess));
    }

    /// <summary>A git job: nothing is fetched until an agent runs it, and the claim benchmarks never run it.</summary>
    public async Task CreateRepoJobAsync(string name)
    {
        using var client = Client();
        await client.CreateJobAsync(new CreateJobRequest(Project, name, new JobDefinition(JobSourceTypes.Repo,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["remote"] = "https://example.invalid/r.git", ["commit"] = new string('0', 40) }),
            ["python", "train.py"])));
    }

    /// <summary>A job whose code is the one file <c>train.py</c>.</summary>
    public async Task CreateScriptJobAsync(string name, string script)
    {
        using var client = Client();
        var code = Directory.CreateTempSubdirectory("liftoff-bench-code-").FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), script);
        var artifact = await client.UploadArtifactAsync(code, Project, name + "-code", new ArtifactUploadOptions("code"));
        Directory.Delete(code, recursive: true);
        await client.CreateJobAsync(new CreateJobRequest(Project, name, new JobDefinition(JobSourceTypes.Artifact,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }), ["python", "train.py"])));
    }

    /// <summary>
    /// Copies one enqueued item <paramref name="count"/> times straight into the store's database, in one statement:
    /// setting up a million pending items through the API would take longer than the benchmark.
    /// </summary>
    public async Task BulkEnqueueAsync(string queue, string job, int count)
    {
        using var client = Client();
        var template = await client.EnqueueAsync(queue, new EnqueueRequest(job, Project));
        await using var connection = new SqliteConnection($"Data Source={Database};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandTimeout = 600;
        command.CommandText = """
            PRAGMA busy_timeout = 60000;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count)
            INSERT INTO items (id, queue_id, entity_id, state, priority, attempt, max_attempts, job, job_definition, project, run_id,
                config, resource_args, template_values, entrypoint, phase, error, agent_id, idempotency_key, created_at,
                claimed_at, started_at, ended_at, lease_expires_at, cancel_requested)
            SELECT 'item_bulk' || $tag || '_' || n.i, t.queue_id, t.entity_id, 'pending', t.priority, 1, t.max_attempts, t.job, t.job_definition,
                t.project, NULL, t.config, t.resource_args, t.template_values, t.entrypoint, NULL, NULL, NULL, NULL, t.created_at + n.i,
                NULL, NULL, NULL, NULL, 0
            FROM n, items t WHERE t.id = $template;
            """;
        command.Parameters.AddWithValue("$count", count - 1);
        command.Parameters.AddWithValue("$tag", Guid.NewGuid().ToString("N")[..8]);
        command.Parameters.AddWithValue("$template", template.Id);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>An in-process agent with the local-process runner, as <c>liftoff agent</c> runs it.</summary>
    public async Task StartAgentAsync(string queue, int maxJobs)
    {
        var options = new AgentOptions
        {
            Name = $"bench-{_agents.Count}",
            Queues = [queue],
            MaxJobs = maxJobs,
            WorkDirectory = Path.Combine(_data, "agent"),
            Python = Python,
        };
        var services = new ServiceCollection().AddLogging(l => l.AddFilter(_ => false)).AddLiftoffAgent(Client(), options).AddTargetRunner(Resources.LocalProcess, options).BuildServiceProvider();
        var worker = services.GetRequiredService<AgentWorker>();
        var stop = new CancellationTokenSource();
        var run = Task.Run(() => worker.ExecuteAsync(stop.Token));
        _agents.Add((services, stop, run));
        await worker.Registered;
    }

    public async Task StopAgentsAsync()
    {
        foreach (var (services, stop, run) in _agents)
        {
            await stop.CancelAsync();
            await run;
            await services.DisposeAsync();
            stop.Dispose();
        }

        _agents.Clear();
    }

    /// <summary>The environment a job gets from an agent, for starting the same script directly: SDK importable, a fresh run per start.</summary>
    public Dictionary<string, string> DirectEnvironment(string sdkPath) => new()
    {
        ["LIFTOFF_BASE_URL"] = Server.BaseUrl.ToString().TrimEnd('/'),
        ["LIFTOFF_API_KEY"] = Key,
        ["LIFTOFF_PROJECT"] = Project,
        ["LIFTOFF_CONSOLE"] = "off",
        ["PYTHONPATH"] = sdkPath,
        ["PYTHONUNBUFFERED"] = "1",
    };

    /// <summary>The interpreter of the venv the agent made for the job (a symlink to <see cref="Python"/>, without the global site-packages).</summary>
    public string VenvPython => Path.Combine(Directory.GetDirectories(Path.Combine(_data, "agent", "venvs")).Single(), "bin", "python");

    public string SdkPath => Directory.GetDirectories(Path.Combine(_data, "agent", "sdk")).Single();

    public async ValueTask DisposeAsync()
    {
        await StopAgentsAsync();
        await Server.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }
}
