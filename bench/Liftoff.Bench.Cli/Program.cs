using System.Globalization;
using Liftoff.Bench.Cli;

var runs = 20;
if (args.Length > 1 || (args.Length == 1 && (!int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out runs) || runs < 1)))
{
    Console.Error.WriteLine("usage: Liftoff.Bench.Cli [RUNS]   (each command runs RUNS times after one warm-up; default 20)");
    return 2;
}

await CliBenchmark.RunAsync(runs);
return 0;
