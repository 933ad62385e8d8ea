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
    var cycles = await Benchmarks.ClaimCyclesAsync(store, Clients, Items);
    Console.WriteLine($"{store.Label,-36} {rows,16:N0} {cycles,18:N1}");
    results.Add((store.Label, rows, cycles));
}

Console.WriteLine(Benchmarks.Json(results));
