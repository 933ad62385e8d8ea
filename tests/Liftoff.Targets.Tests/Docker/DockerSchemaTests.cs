using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Targets.Docker;
using Xunit;

namespace Liftoff.Targets.Tests.Docker;

public sealed class DockerSchemaTests
{
    [Fact]
    public void Validate_WhenEveryFieldIsWellFormed_FindsNothing()
    {
        var config = JsonNode.Parse("""
            {"env": {"A": "1", "B": 2}, "volumes": ["data:/data", "/srv/cache:/cache:ro"], "gpus": "all", "cpus": 1.5,
             "memory": "512m", "shm_size": 1073741824, "network": "none", "user": "1000:1000", "labels": {"team": "ml"},
             "extra_hosts": ["db:10.0.0.2"], "privileged": false, "cap_add": ["SYS_PTRACE"], "keep": true, "base_image": "python:3.12"}
            """)!.AsObject();

        Assert.Empty(new DockerTarget().Validate(config, "resource_args", complete: true));
    }

    [Fact]
    public void Validate_WhenKeysAreUnknownOrValuesMalformed_NamesEachPath()
    {
        var config = JsonNode.Parse("""
            {"memroy": "1g", "memory": "lots", "gpus": 0, "volumes": ["relative"], "env": {"X": {"nested": 1}}, "cpus": -1}
            """)!.AsObject();

        var errors = new DockerTarget().Validate(config, "resource_args", complete: true);

        Assert.Equal(
            ["resource_args.memroy", "resource_args.memory", "resource_args.gpus", "resource_args.volumes[0]", "resource_args.env.X", "resource_args.cpus"],
            errors.Select(e => e.Field));
        Assert.Contains("docker does not take 'memroy'", errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateOverrides_WhenAnItemAsksForWhatTheQueueDoesNotGrant_RefusesEach()
    {
        using var defaults = JsonDocument.Parse("""{"network": "host", "volumes": ["/srv/data:/data"], "cap_add": ["SYS_PTRACE"]}""");
        using var item = JsonDocument.Parse("""
            {"privileged": true, "network": "host", "cap_add": ["SYS_PTRACE", "SYS_ADMIN"], "volumes": ["/srv/data:/data", "/etc:/host-etc", "scratch:/scratch"]}
            """);

        var errors = new DockerTarget().ValidateOverrides(defaults.RootElement, item.RootElement, "resource_args");

        Assert.Equal(["resource_args.privileged", "resource_args.cap_add", "resource_args.volumes"], errors.Select(e => e.Field));
        Assert.Contains("SYS_ADMIN", errors[1].Message, StringComparison.Ordinal);
        Assert.Contains("/etc:/host-etc", errors[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateOverrides_WhenTheQueueDoesNotUseTheHostNetwork_RefusesAnItemThatDoes()
    {
        using var defaults = JsonDocument.Parse("{}");
        using var item = JsonDocument.Parse("""{"network": "host"}""");

        var errors = new DockerTarget().ValidateOverrides(defaults.RootElement, item.RootElement, "resource_args");

        Assert.Equal("resource_args.network", Assert.Single(errors).Field);
    }

    [Theory]
    [InlineData("\"512m\"", 512L << 20)]
    [InlineData("\"1.5g\"", 3L << 29)]
    [InlineData("\"64k\"", 64L << 10)]
    [InlineData("1048576", 1L << 20)]
    public void Read_TakesSizesAsDockerRunDoes(string memory, long bytes)
    {
        using var config = JsonDocument.Parse($$"""{"memory": {{memory}}, "gpus": 2, "keep": true}""");

        var read = DockerSchema.Read(config.RootElement);

        Assert.Equal(bytes, read.Memory);
        Assert.Equal(2, read.Gpus);
        Assert.True(read.Keep);
    }
}
