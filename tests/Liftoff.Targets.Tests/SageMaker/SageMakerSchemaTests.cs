using Xunit;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Targets.SageMaker;

namespace Liftoff.Targets.Tests.SageMaker;

public sealed class SageMakerSchemaTests
{
    private static JsonObject Valid() => JsonNode.Parse("""
        {
          "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
          "ResourceConfig": { "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30 },
          "OutputDataConfig": { "S3OutputPath": "s3://bucket/out" },
          "StoppingCondition": { "MaxRuntimeInSeconds": 3600 },
          "VpcConfig": { "SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"] },
          "Tags": [{ "Key": "team", "Value": "ml" }]
        }
        """)!.AsObject();

    [Fact]
    public void Validate_CompleteConfig_HasNoErrors()
    {
        Assert.Empty(new SageMakerTarget().Validate(Valid(), "resource_args", complete: true));
    }

    [Fact]
    public void Validate_InstanceTypeNotInTheServiceModelsEnum_NamesThePath()
    {
        var config = Valid();
        config["ResourceConfig"]!["InstanceType"] = "ml.banana.xlarge";

        var error = Assert.Single(new SageMakerTarget().Validate(config, "resource_args", complete: true));

        Assert.Equal("resource_args.ResourceConfig.InstanceType", error.Field);
        Assert.Contains("ml.m5.xlarge", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MissingRoleArn_IsRequiredAtLaunchButNotInQueueDefaults()
    {
        var config = Valid();
        config.Remove("RoleArn");

        var error = Assert.Single(new SageMakerTarget().Validate(config, "resource_args", complete: true));
        Assert.Equal("resource_args.RoleArn", error.Field);
        Assert.Empty(new SageMakerTarget().Validate(config, "config", complete: false));
    }

    [Fact]
    public void Validate_WrongTypesUnknownMembersAndAgentOwnedMembers_AreEachNamed()
    {
        var config = Valid();
        config["ResourceConfig"]!["InstanceCount"] = "two";
        config["StoppingCondition"]!["MaxRuntimeHours"] = 1;
        config["TrainingJobName"] = "mine";
        config["AlgorithmSpecification"] = new JsonObject { ["TrainingImage"] = "x", ["TrainingInputMode"] = "Sideways" };

        var fields = new SageMakerTarget().Validate(config, "resource_args", complete: true).Select(e => e.Field).Order().ToList();

        Assert.Equal(
            ["resource_args.AlgorithmSpecification.TrainingImage", "resource_args.AlgorithmSpecification.TrainingInputMode",
             "resource_args.ResourceConfig.InstanceCount", "resource_args.StoppingCondition.MaxRuntimeHours", "resource_args.TrainingJobName"],
            fields);
    }

    [Fact]
    public void Validate_MacroInAnEnumMember_IsLeftForSubstitution()
    {
        var config = Valid();
        config["ResourceConfig"]!["InstanceType"] = "${instance_type}";

        Assert.Empty(new SageMakerTarget().Validate(config, "resource_args", complete: true));
    }

    [Fact]
    public void ServiceModel_ComesFromThePublishedModel()
    {
        var model = AwsServiceModel.SageMaker;

        Assert.Equal("SageMaker", model.TargetPrefix);
        Assert.Equal("1.1", model.JsonVersion);
        Assert.Contains("CreateTrainingJob", model.Operations);
        Assert.Equal(["InProgress", "Completed", "Failed", "Stopping", "Stopped"],
            model.Enum(model.MemberShape(model.OutputShape("DescribeTrainingJob")!, "TrainingJobStatus")));
    }
}
