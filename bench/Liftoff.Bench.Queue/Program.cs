using Liftoff.Bench.Queue;

var which = args.Length > 0 ? args[0] : "all";
if (which is not ("all" or "dispatch" or "cycles" or "agents" or "claims"))
{
    Console.Error.WriteLine("usage: Liftoff.Bench.Queue [all|dispatch|cycles|agents|claims]");
    return 2;
}

await using var bench = await QueueBench.StartAsync();
Console.WriteLine($"python: {bench.Python} ({bench.PythonVersion}); {Environment.ProcessorCount} cores; SQLite at {bench.Database}");
if (which is "all" or "dispatch" or "agents")
{
    await AgentBenchmarks.RunAsync(bench, dispatch: which is "all" or "dispatch", throughput: which is "all" or "agents");
}

if (which is "all" or "cycles")
{
    await ClaimBenchmarks.CyclesAsync(bench);
}

if (which is "all" or "claims")
{
    await ClaimBenchmarks.LatencyByDepthAsync(bench);
}

return 0;
