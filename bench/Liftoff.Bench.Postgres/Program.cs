using Liftoff.Bench.Kit;
using Liftoff.Bench.Postgres;

// SQLite next to PostgreSQL on the same machine and the same HTTP paths. PostgreSQL is LIFTOFF_BENCH_POSTGRES, else the
// test cluster (scripts/setup/postgres.sh); it runs twice, with commits that do not and that do wait for the disk.
const int Runs = 16;
const int RowsPerRun = 25_000;
const int Clients = 8;
const int Items = 2_000;

var postgres = Environment.GetEnvironmentVariable("LIFTOFF_BENCH_POSTGRES") is { Length: > 0 } chosen ? chosen
    : Environment.GetEnvironmentVariable("LIFTOFF_TEST_POSTGRES") is { Length: > 0 } test ? test
    : "Host=127.0.0.1;Port=55432;Username=liftoff;Password=liftoff;Database=liftoff";
if (args is ["replicas"])
{
    await Replicas(postgres);
    return;
}

Func<Task<StoreUnderTest>>[] stores =
[
    StoreUnderTest.SqliteAsync,
    () => StoreUnderTest.PostgresAsync(postgres, "off"),
    () => StoreUnderTest.PostgresAsync(postgres, "on"),
];

Console.WriteLine($"{Runs} runs x {RowsPerRun:N0} history rows in 1,000-row batches; {Clients} agents claiming and finishing {Items:N0} items; {Environment.ProcessorCount} cores");
Console.WriteLine($"{"store",-36} {"history rows/s",16} {"claim→complete/s",18}");
var results = new List<(string, double, double)>();
foreach (var start in stores)
{
    await using var store = await start();
    await Benchmarks.IngestAsync(store, runs: 2, rowsPerRun: 5_000);
    var rows = await Benchmarks.IngestAsync(store, Runs, RowsPerRun);
    var (cycles, _) = await Benchmarks.ClaimCyclesAsync(store, Clients, Items);
    Console.WriteLine($"{store.Label,-36} {rows,16:N0} {cycles,18:N1}");
    results.Add((store.Label, rows, cycles));
}

Console.WriteLine(Benchmarks.Json(results));

// The same measurements through haproxy in front of 1 and then 3 replicas on one PostgreSQL schema, plus dispatch latency.
static async Task Replicas(string postgres)
{
    const int dispatchSamples = 200;
    Console.WriteLine($"{Runs} runs x {RowsPerRun:N0} history rows; {Clients} agents claiming and finishing {Items:N0} items; {dispatchSamples} dispatches; {Environment.ProcessorCount} cores");
    Console.WriteLine($"{"deployment",-36} {"history rows/s",16} {"claim→complete/s",18} {"dispatch p50",14} {"dispatch p99",14}");
    var measured = new List<(double Rows, double Cycles, double P50, double P99)>();
    await using (var warmUp = await StoreUnderTest.ReplicasAsync(postgres, 1))
    {
        // Not reported: both deployments run in this process, so the first would otherwise pay for compiling the code.
        await Benchmarks.IngestAsync(warmUp, runs: 4, rowsPerRun: 5_000);
        await Benchmarks.ClaimCyclesAsync(warmUp, Clients, Items);
        await Benchmarks.DispatchAsync(warmUp, 50);
    }

    foreach (var replicas in (int[])[1, 3])
    {
        await using var store = await StoreUnderTest.ReplicasAsync(postgres, replicas);
        await Benchmarks.IngestAsync(store, runs: 2, rowsPerRun: 5_000);
        var rows = await Benchmarks.IngestAsync(store, Runs, RowsPerRun);
        var (cycles, cpu) = await Benchmarks.ClaimCyclesAsync(store, Clients, Items);
        var dispatch = await Benchmarks.DispatchAsync(store, dispatchSamples);
        var (p50, p99) = (Measure.Percentile(dispatch, 50) * 1000, Measure.Percentile(dispatch, 99) * 1000);
        Console.WriteLine($"{store.Label,-36} {rows,16:N0} {cycles,18:N1} {p50,11:0.0} ms {p99,11:0.0} ms");
        // Each cycle is 2 requests (claim, report finished); the enqueues before the timed window are not counted.
        Console.WriteLine($"  CPU per claim→complete cycle (2 requests): servers + bench clients {PerCycle(cpu.Self)}, PostgreSQL {PerCycle(cpu.Postgres)}, haproxy {PerCycle(cpu.Balancer)}");
        measured.Add((rows, cycles, p50, p99));
    }

    static string PerCycle(TimeSpan cpu) => $"{cpu.TotalMilliseconds / Items:0.00} ms";

    Console.WriteLine($"3 replicas / 1: claim→complete {measured[1].Cycles / measured[0].Cycles:0.00}x (target >= 0.9x), history rows {measured[1].Rows / measured[0].Rows:0.00}x, " +
        $"dispatch p99 {measured[1].P99 - measured[0].P99:+0.0;-0.0} ms (target <= +100 ms)");
}
