using Liftoff.Bench;

var which = args.Length > 0 ? args[0] : "all";
if (which is not ("all" or "ingest" or "python" or "logs"))
{
    Console.Error.WriteLine("usage: Liftoff.Bench [all|ingest|python|logs]");
    return 2;
}

await using var bench = await BenchServer.StartAsync();
if (which is "all" or "ingest")
{
    await IngestBenchmark.RunAsync(bench);
}

if (which is "all" or "python")
{
    await PythonLogBenchmark.RunAsync(bench);
}

if (which is "all" or "logs")
{
    await ConsoleReadBenchmark.RunAsync(bench);
}

return 0;
