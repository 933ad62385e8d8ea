using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Liftoff.Agent;
using Liftoff.Bench.Kit;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Hosting;
using Liftoff.Targets;
using Liftoff.Targets.Builders;
using Liftoff.Targets.Docker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static Liftoff.Bench.Kit.Measure;

// Dispatch latency of a prebuilt image job on the docker target (enqueue returned -> the container's first statement),
// next to `docker run` of the same image and command started directly; then the builder's decision for an unchanged
// code job (must build nothing). Needs scripts/setup/docker.sh: its engine (or DOCKER_HOST) and base image.
const int DispatchSamples = 30;
const int DecisionSamples = 20;
const string Image = "liftoff-test/python:bookworm";

var host = Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } h ? h : "unix:///run/liftoff-docker/docker.sock";
var root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "Liftoff.slnx")))
{
    root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("run from a checkout: no Liftoff.slnx above " + AppContext.BaseDirectory);
}

var data = Directory.CreateTempSubdirectory("liftoff-bench-docker-").FullName;
var stamps = Directory.CreateDirectory(Path.Combine(data, "stamps")).FullName;
await using var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false));
using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, server.InitialAdminKey!));
var sdk = Path.Combine(root, "sdk", "python");

// The stamp is the container's first statement; the SDK (bind-mounted, as an image would carry it) then inits and finishes.
var command = new[] { "python3", "-c", "import os, time; t = time.time(); open('/stamps/' + os.environ['STAMP'], 'w').write(repr(t)); import liftoff; liftoff.init(); liftoff.finish()" };
var queueConfig = JsonSerializer.SerializeToElement(new Dictionary<string, object>
{
    ["volumes"] = new[] { $"{stamps}:/stamps", $"{sdk}:/opt/sdk:ro" },
    ["env"] = new Dictionary<string, string> { ["PYTHONPATH"] = "/opt/sdk" },
});
await client.CreateQueueAsync(new CreateQueueRequest("docker", Resources.Docker, queueConfig));
await client.CreateJobAsync(new CreateJobRequest("bench", "stamp", new JobDefinition(JobSourceTypes.Image,
    JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["image"] = Image }), command)));

var options = new AgentOptions
{
    Name = "bench-docker",
    Queues = ["docker"],
    WorkDirectory = Path.Combine(data, "agent"),
    Builder = new BuilderSettings { Type = "docker", BaseImage = Image },
};
options.SetTarget(new DockerSettings { Host = host, Network = "host" });
await using var services = new ServiceCollection().AddLogging(l => l.AddFilter(_ => false)).AddLiftoffAgent(client, options).AddTargetRunner(Resources.Docker, options).BuildServiceProvider();
var worker = services.GetRequiredService<AgentWorker>();
using var stop = new CancellationTokenSource();
var agent = Task.Run(() => worker.ExecuteAsync(stop.Token));
await worker.Registered;
var engine = await Run("docker", ["version", "--format", "{{.Server.Version}}"]);
Console.WriteLine($"engine {host} (Docker {engine.Trim()}); image {Image}; {Environment.ProcessorCount} cores");

for (var i = 0; i < 3; i++)
{
    await DispatchAsync();
}

var viaAgent = new List<double>();
for (var i = 0; i < DispatchSamples; i++)
{
    viaAgent.Add(await DispatchAsync());
}

var direct = new List<double>();
for (var i = 0; i < DispatchSamples; i++)
{
    var id = $"direct-{i}";
    var start = UnixNow();
    await Run("docker", ["run", "--rm", "--network", "host", "-v", $"{stamps}:/stamps", "-v", $"{sdk}:/opt/sdk:ro", "-e", "PYTHONPATH=/opt/sdk", "-e", $"STAMP={id}",
        "-e", $"LIFTOFF_BASE_URL={server.BaseUrl.ToString().TrimEnd('/')}", "-e", $"LIFTOFF_API_KEY={server.InitialAdminKey}", "-e", "LIFTOFF_PROJECT=bench", "-e", "LIFTOFF_CONSOLE=off", Image, .. command]);
    direct.Add(Stamp(id) - start);
}

Console.WriteLine($"dispatch latency, enqueue returned -> container's first statement ({DispatchSamples} sequential items, 1 agent):");
Console.WriteLine($"  through the agent:        p50 {Ms(Percentile(viaAgent, 50)),9}  p99 {Ms(Percentile(viaAgent, 99)),9}");
Console.WriteLine($"  docker run, started directly: p50 {Ms(Percentile(direct, 50)),9}  p99 {Ms(Percentile(direct, 99)),9}");
Console.WriteLine($"  ratio:                    p50 {Percentile(viaAgent, 50) / Percentile(direct, 50):0.00}x  p99 {Percentile(viaAgent, 99) / Percentile(direct, 99):0.00}x");

// The rebuild decision: a code job built once, then prepared again unchanged (code fetched, inputs hashed, image looked up).
var code = Directory.CreateDirectory(Path.Combine(data, "code")).FullName;
await File.WriteAllTextAsync(Path.Combine(code, "train.py"), "import liftoff\nliftoff.init()\nliftoff.finish()\n");
await File.WriteAllTextAsync(Path.Combine(code, "requirements.txt"), "");
var artifact = await client.UploadArtifactAsync(code, "bench", "built-code", new ArtifactUploadOptions("code"));
await client.CreateJobAsync(new CreateJobRequest("bench", "built", new JobDefinition(JobSourceTypes.Artifact,
    JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }), ["python", "train.py"])));
var builder = services.GetRequiredService<IImageBuilder>();
var spec = await client.DryRunAsync("docker", new EnqueueRequest("built", "bench"));
var definition = spec.JobDefinition.Deserialize(LiftoffJsonContext.Default.JobDefinition)!;
var first = await PrepareAsync();
var decisions = new List<double>();
var builds = first.Built ? 1 : 0;
for (var i = 0; i < DecisionSamples; i++)
{
    var watch = Stopwatch.StartNew();
    var image = await PrepareAsync();
    decisions.Add(watch.Elapsed.TotalSeconds);
    builds += image.Built ? 1 : 0;
    if (image.Reference != first.Reference)
    {
        throw new InvalidOperationException($"an unchanged job mapped to {image.Reference}, not {first.Reference}");
    }
}

Console.WriteLine($"unchanged code job, prepared {DecisionSamples} times after its first build ({(first.Built ? "built" : "already cached")}: {first.Reference}):");
Console.WriteLine($"  builds: {builds - (first.Built ? 1 : 0)}; decision p50 {Ms(Percentile(decisions, 50))}, max {Ms(decisions.Max())}");

await stop.CancelAsync();
await agent;
Directory.Delete(data, recursive: true);
return 0;

async Task<double> DispatchAsync()
{
    var id = Guid.NewGuid().ToString("N");
    var item = await client.EnqueueAsync("docker", new EnqueueRequest("stamp", "bench", ResourceArgs: JsonSerializer.SerializeToElement(new Dictionary<string, object>
    {
        ["env"] = new Dictionary<string, string> { ["STAMP"] = id },
    })));
    var enqueued = UnixNow();
    await Waits.FinishedAsync(client, item.Id);
    return Stamp(id) - enqueued;
}

async Task<JobImage> PrepareAsync()
{
    using var work = new Scratch(Directory.CreateTempSubdirectory("liftoff-bench-prepare-").FullName);
    var console = new RunConsole(client, spec.RunId, TimeProvider.System, NullLogger.Instance);
    var image = await builder.PrepareAsync(new LaunchContext(spec, definition, console, client, work.Path), push: false, CancellationToken.None);
    await console.CompleteAsync(CancellationToken.None);
    return image;
}

double Stamp(string id)
{
    var path = Path.Combine(stamps, id);
    var value = double.Parse(File.ReadAllText(path), CultureInfo.InvariantCulture);
    File.Delete(path);
    return value;
}

Task<string> Run(string program, IReadOnlyList<string> arguments) => Waits.RunAsync(program, arguments, new Dictionary<string, string> { ["DOCKER_HOST"] = host });

/// <summary>A work directory removed when done.</summary>
internal sealed class Scratch(string path) : IDisposable
{
    public string Path { get; } = path;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
