using System.Globalization;
using Liftoff.Bench.Wandb;

// dotnet run -c Release --project bench/Liftoff.Bench.Wandb [-- clients batches rowsPerBatch rounds]
var numbers = args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
var defaults = new IngestionOptions();
var options = new IngestionOptions(
    numbers.ElementAtOrDefault(0) is > 0 and var clients ? clients : defaults.Clients,
    numbers.ElementAtOrDefault(1) is > 0 and var batches ? batches : defaults.Batches,
    numbers.ElementAtOrDefault(2) is > 0 and var rows ? rows : defaults.RowsPerBatch,
    numbers.ElementAtOrDefault(3) is > 0 and var rounds ? rounds : defaults.Rounds);
Console.WriteLine($"{options.Clients} clients x {options.Batches} batches x {options.RowsPerBatch} rows, {options.Rounds} rounds");
var results = await IngestionBenchmark.RunAsync(options, Console.Out);
var native = IngestionBenchmark.Median(results, "native");
var wandb = IngestionBenchmark.Median(results, "wandb");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median: native {native:0} rows/s, wandb file_stream {wandb:0} rows/s, ratio {wandb / native:0.00}"));
