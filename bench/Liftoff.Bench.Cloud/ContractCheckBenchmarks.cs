using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Liftoff.Core;
using Liftoff.Targets.SageMaker;
using Liftoff.Targets.Vertex;

namespace Liftoff.Bench.Cloud;

/// <summary>
/// What checking a resource config against the published contract adds to an enqueue, beside the peer every enqueue
/// pays anyway: parsing the same JSON text into a <see cref="JsonNode"/>.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class ContractCheckBenchmarks
{
    private const string SageMakerConfig = """
        {
          "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
          "ResourceConfig": { "InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50 },
          "OutputDataConfig": { "S3OutputPath": "s3://acme-ml/output" },
          "StoppingCondition": { "MaxRuntimeInSeconds": 86400 },
          "VpcConfig": { "SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-0abc"] },
          "Environment": { "HF_HOME": "/opt/ml/hf" },
          "Tags": [{ "Key": "team", "Value": "ml" }]
        }
        """;

    private const string VertexConfig = """
        {
          "workerPoolSpecs": [{
            "machineSpec": { "machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1 },
            "replicaCount": "1",
            "diskSpec": { "bootDiskType": "pd-ssd", "bootDiskSizeGb": 100 }
          }],
          "serviceAccount": "trainer@acme-ml.iam.gserviceaccount.com",
          "network": "projects/123/global/networks/ml",
          "scheduling": { "timeout": "86400s" }
        }
        """;

    private JsonObject _sageMaker = [];
    private JsonObject _vertex = [];

    [GlobalSetup]
    public void Setup()
    {
        _sageMaker = JsonNode.Parse(SageMakerConfig)!.AsObject();
        _vertex = JsonNode.Parse(VertexConfig)!.AsObject();
        if (SageMakerSchema.Validate(_sageMaker, "resource_args", complete: true).Count + VertexSchema.Validate(_vertex, "resource_args", complete: true).Count > 0)
        {
            throw new InvalidOperationException("the benchmark configs must be valid");
        }
    }

    [Benchmark]
    public JsonNode? ParseSageMakerConfig() => JsonNode.Parse(SageMakerConfig);

    [Benchmark]
    public IReadOnlyList<FieldError> CheckSageMakerConfig() => SageMakerSchema.Validate(_sageMaker, "resource_args", complete: true);

    [Benchmark]
    public JsonNode? ParseVertexConfig() => JsonNode.Parse(VertexConfig);

    [Benchmark]
    public IReadOnlyList<FieldError> CheckVertexConfig() => VertexSchema.Validate(_vertex, "resource_args", complete: true);
}
