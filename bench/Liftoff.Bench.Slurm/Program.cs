using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Liftoff.Agent;
using Liftoff.Bench.Kit;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Hosting;
using Liftoff.Targets;
using Liftoff.Targets.Slurm;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static Liftoff.Bench.Kit.Measure;

// Enqueue -> job running on an idle Slurm cluster (the entrypoint's first statement), through the agent, next to the
// limit: sbatch of the same batch script (SlurmBatchScript.Render, same options, same srun line) started by hand, timed
// from sbatch's start to the same first statement. Needs scripts/setup/slurm.sh (its cluster, idle).
const int Samples = 20;
const string Stamp = "import os, time; t = time.time(); open(os.path.join(os.environ['STAMPS'], os.environ['STAMP']), 'w').write(repr(t))";

var data = Directory.CreateTempSubdirectory("liftoff-bench-slurm-").FullName;
var stamps = Directory.CreateDirectory(Path.Combine(data, "stamps")).FullName;
var workdir = Directory.CreateDirectory(Path.Combine(data, "shared")).FullName;
await using var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false));
using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, server.InitialAdminKey!));

// The code job: its first statement writes the stamp, then the SDK inits and finishes the run.
var code = Directory.CreateDirectory(Path.Combine(data, "code")).FullName;
await File.WriteAllTextAsync(Path.Combine(code, "train.py"), Stamp + "\nimport liftoff\nliftoff.init()\nliftoff.finish()\n");
var artifact = await client.UploadArtifactAsync(code, "bench", "stamp-code", new ArtifactUploadOptions("code"));
await client.CreateJobAsync(new CreateJobRequest("bench", "stamp", new JobDefinition(JobSourceTypes.Artifact,
    JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }), ["python", "train.py"])));
await client.CreateQueueAsync(new CreateQueueRequest("slurm", "slurm", JsonSerializer.SerializeToElement(new Dictionary<string, object>
{
    ["env"] = new Dictionary<string, string> { ["STAMPS"] = stamps },
})));

var options = new AgentOptions { Name = "bench-slurm", Queues = ["slurm"], WorkDirectory = Path.Combine(data, "agent") };
options.SetTarget(new SlurmSettings { Workdir = workdir, PollInterval = 0.2 });
await using var services = new ServiceCollection().AddLogging(l => l.AddFilter(_ => false)).AddLiftoffAgent(client, options).AddTargetRunner("slurm", options).BuildServiceProvider();
var worker = services.GetRequiredService<AgentWorker>();
using var stop = new CancellationTokenSource();
var agent = Task.Run(() => worker.ExecuteAsync(stop.Token));
await worker.Registered;
// By hand, the script runs the interpreter itself, not the pyenv shim (which costs about 70 ms a start and is not what
// the agent's venv runs): the one LIFTOFF_BENCH_PYTHON or python3 resolves to.
var python = (await Waits.RunAsync(Environment.GetEnvironmentVariable("LIFTOFF_BENCH_PYTHON") ?? "python3", ["-c", "import sys; print(sys.executable)"])).Trim();
Console.WriteLine($"Slurm {(await Waits.RunAsync("sinfo", ["--version"])).Trim()}; {Environment.ProcessorCount} cores; python {python}; {Samples} sequential jobs each way, alternating");

for (var i = 0; i < 2; i++)
{
    await ViaAgentAsync();
}

var viaAgent = new List<double>();
var byHand = new List<double>();
for (var i = 0; i < Samples; i++)
{
    viaAgent.Add(await ViaAgentAsync());
    byHand.Add(await ByHandAsync(i));
}

Console.WriteLine("enqueue (or sbatch) -> the entrypoint's first statement on the compute node:");
Console.WriteLine($"  through the agent:     p50 {Ms(Percentile(viaAgent, 50)),9}  p99 {Ms(Percentile(viaAgent, 99)),9}");
Console.WriteLine($"  sbatch by hand:        p50 {Ms(Percentile(byHand, 50)),9}  p99 {Ms(Percentile(byHand, 99)),9}");
Console.WriteLine($"  ratio p50: {Percentile(viaAgent, 50) / Percentile(byHand, 50):0.00}x; budget 1.5 x sbatch + 100 ms = {Ms(1.5 * Percentile(byHand, 50) + 0.1)} ({(Percentile(viaAgent, 50) <= 1.5 * Percentile(byHand, 50) + 0.1 ? "within" : "OVER")})");

await stop.CancelAsync();
await agent;
Directory.Delete(data, recursive: true);
return 0;

async Task<double> ViaAgentAsync()
{
    await IdleAsync();
    var id = Guid.NewGuid().ToString("N");
    var item = await client.EnqueueAsync("slurm", new EnqueueRequest("stamp", "bench", ResourceArgs: JsonSerializer.SerializeToElement(new Dictionary<string, object>
    {
        ["env"] = new Dictionary<string, string> { ["STAMP"] = id },
    })));
    var enqueued = UnixNow();
    await Waits.FinishedAsync(client, item.Id);

    return ReadStamp(id) - enqueued;
}

async Task<double> ByHandAsync(int i)
{
    await IdleAsync();
    var id = $"by-hand-{i}";
    var folder = Directory.CreateDirectory(Path.Combine(workdir, id)).FullName;
    var secrets = Path.Combine(folder, "secrets.env");
    await File.WriteAllTextAsync(secrets, "");
    var script = Path.Combine(folder, "job.sh");
    await File.WriteAllTextAsync(script, SlurmBatchScript.Render(new SlurmResourceConfig(), new SlurmSubmission($"by-hand-{i}", "by hand", folder, Path.Combine(folder, "output.log"), secrets,
        [python, "-c", Stamp], new Dictionary<string, string> { ["STAMPS"] = stamps, ["STAMP"] = id }, null)));
    var start = UnixNow();
    var jobId = (await Waits.RunAsync("sbatch", ["--parsable", script])).Trim();
    var stamp = await Waits.UntilAsync(() => Task.FromResult(File.Exists(Path.Combine(stamps, id)) && new FileInfo(Path.Combine(stamps, id)).Length > 0 ? "written" : null), $"job {jobId} to start");
    var elapsed = ReadStamp(id) - start;
    await Waits.UntilAsync(async () => (await Waits.RunAsync("squeue", ["--noheader", "--states=all", "--jobs=" + jobId, "--Format=State"])).Trim() is "COMPLETED" or "FAILED" ? stamp : null, $"job {jobId} to end");
    return elapsed;
}

// Each sample starts on an idle cluster: a node still COMPLETING the last job would wait for the next scheduling pass.
static async Task IdleAsync() =>
    await Waits.UntilAsync(async () => (await Waits.RunAsync("sinfo", ["--noheader", "--partition=debug", "--format=%T"])).Trim() == "idle" ? "idle" : null, "the node to be idle");

double ReadStamp(string id)
{
    var path = Path.Combine(stamps, id);
    var value = double.Parse(File.ReadAllText(path), CultureInfo.InvariantCulture);
    File.Delete(path);
    return value;
}
