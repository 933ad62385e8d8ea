using Xunit;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Targets.Vertex;

namespace Liftoff.Targets.Tests.Vertex;

public sealed class VertexSchemaTests
{
    private static JsonObject Valid() => JsonNode.Parse("""
        {
          "workerPoolSpecs": [{
            "machineSpec": { "machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1 },
            "replicaCount": "1",
            "diskSpec": { "bootDiskType": "pd-ssd", "bootDiskSizeGb": 100 }
          }],
          "serviceAccount": "trainer@project.iam.gserviceaccount.com",
          "scheduling": { "timeout": "3600s" }
        }
        """)!.AsObject();

    [Fact]
    public void Validate_CompleteConfig_HasNoErrors()
    {
        Assert.Empty(new VertexTarget().Validate(Valid(), "resource_args", complete: true));
    }

    [Fact]
    public void Validate_MachineSpecWithoutMachineType_IsRefusedAsTheProtosSay()
    {
        var config = Valid();
        config["workerPoolSpecs"]![0]!["machineSpec"]!.AsObject().Remove("machineType");

        var error = Assert.Single(new VertexTarget().Validate(config, "resource_args", complete: true));

        Assert.Equal("resource_args.workerPoolSpecs[0].machineSpec.machineType", error.Field);
    }

    [Fact]
    public void Validate_MissingWorkerPoolSpecs_IsRequiredAtLaunchButNotInQueueDefaults()
    {
        var config = Valid();
        config.Remove("workerPoolSpecs");

        Assert.Equal("resource_args.workerPoolSpecs", Assert.Single(new VertexTarget().Validate(config, "resource_args", complete: true)).Field);
        Assert.Empty(new VertexTarget().Validate(config, "config", complete: false));
    }

    [Fact]
    public void Validate_BadEnumDurationUnknownFieldAndContainerSpec_AreEachNamed()
    {
        var config = Valid();
        var pool = config["workerPoolSpecs"]![0]!.AsObject();
        pool["machineSpec"]!["acceleratorType"] = "NVIDIA_BANANA";
        pool["containerSpec"] = new JsonObject { ["imageUri"] = "mine" };
        pool["replica_count"] = 2;
        config["scheduling"]!["timeout"] = "an hour";
        config["networkName"] = "default";

        var fields = new VertexTarget().Validate(config, "resource_args", complete: true).Select(e => e.Field).Order().ToList();

        Assert.Equal(
            ["resource_args.networkName", "resource_args.scheduling.timeout", "resource_args.workerPoolSpecs[0].containerSpec",
             "resource_args.workerPoolSpecs[0].machineSpec.acceleratorType", "resource_args.workerPoolSpecs[0].replica_count"],
            fields);
    }

    [Fact]
    public void ProtoModel_ComesFromThePublishedProtos()
    {
        Assert.Contains("JOB_STATE_CANCELLED", VertexProtoModel.Instance.Enum("google.cloud.aiplatform.v1.JobState"));
        Assert.Contains("NVIDIA_TESLA_T4", VertexProtoModel.Instance.Enum("google.cloud.aiplatform.v1.AcceleratorType"));
    }
}
