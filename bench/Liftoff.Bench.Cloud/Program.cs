using BenchmarkDotNet.Running;
using Liftoff.Bench.Cloud;

BenchmarkRunner.Run<ContractCheckBenchmarks>(args: args);
