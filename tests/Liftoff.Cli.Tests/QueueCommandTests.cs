using System.Text.Json;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class QueueCommandTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task QueueAndLaunch_FromTheCommandLine_EnqueueDescribeCancelDelete()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        using (var http = server.Http(key))
        {
            await TestJobs.CreateRepoJobAsync(http, "mnist", "train", configDefaults: """{"lr":0.1,"epochs":3}""");
        }

        var queueConfig = home.File("queue.yaml", "env:\n  DATA: /data/${project_name}\n  GPUS: \"{{gpus}}\"\n");
        var args = home.File("args.yaml", "env:\n  EXTRA: \"yes\"\n");

        var create = await cli.RunAsync("queue", "create", "gpu", "--resource", "local-process", "--config", queueConfig, "--template-var", "gpus=integer:1..8", "--max-attempts", "2");
        var dryRun = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "gpu", "--config", "lr=0.5", "--set-var", "gpus=2", "--resource-args", args, "--dry-run", "--json");
        var badConfig = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "gpu", "--config", "lr=fast", "--set-var", "gpus=2");
        var badVar = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "gpu", "--set-var", "gpus=9");
        var launch = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "gpu", "--set-var", "gpus=4", "--priority", "high", "--json");
        var list = await cli.RunAsync("queue", "list", "--json");
        var describe = await cli.RunAsync("queue", "describe", "gpu");
        var deleteRefused = await cli.RunAsync("queue", "delete", "gpu");

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        var spec = JsonDocument.Parse(dryRun.Stdout).RootElement;
        Assert.Equal("""{"env":{"DATA":"/data/mnist","GPUS":"2","EXTRA":"yes"}}""", Compact(spec.GetProperty("resource_config")));
        Assert.Equal("""{"lr":0.5,"epochs":3}""", Compact(spec.GetProperty("config")));
        Assert.Equal(1, badConfig.ExitCode);
        Assert.Contains("config.lr", badConfig.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, badVar.ExitCode);
        Assert.Contains("template_values.gpus", badVar.Stderr, StringComparison.Ordinal);
        Assert.True(launch.ExitCode == 0, launch.ToString());
        var item = JsonDocument.Parse(launch.Stdout).RootElement;
        Assert.Equal(("pending", "high"), (item.GetProperty("state").GetString(), item.GetProperty("priority").GetString()));
        Assert.Equal(1, JsonDocument.Parse(list.Stdout).RootElement.GetProperty("queues")[0].GetProperty("depth").GetInt64());
        Assert.Contains(item.GetProperty("id").GetString()!, describe.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, deleteRefused.ExitCode);
        Assert.Contains("active item", deleteRefused.Stderr, StringComparison.Ordinal);

        var cancel = await cli.RunAsync("queue", "cancel", item.GetProperty("id").GetString()!);
        var describeItem = await cli.RunAsync("item", "describe", item.GetProperty("id").GetString()!, "--json");
        var delete = await cli.RunAsync("queue", "delete", "gpu");

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains("cancelled", cancel.Stderr, StringComparison.Ordinal);
        Assert.True(describeItem.ExitCode == 0, describeItem.ToString());
        Assert.Equal(
            [("pending", null), ("cancelled", "cancelled")],
            JsonDocument.Parse(describeItem.Stdout).RootElement.GetProperty("events").EnumerateArray().Select(e => (e.GetProperty("state").GetString(), e.GetProperty("failure_class").GetString())));
        Assert.True(delete.ExitCode == 0, delete.ToString());
    }

    [Fact]
    public async Task Launch_WithUriOrImage_CreatesTheJobThenEnqueues()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", await server.NewUserKeyAsync());
        home.File("trainer/train.py", "print('hi')\n");
        await cli.RunAsync("queue", "create", "local", "--resource", "local-process");

        var fromDir = await cli.RunAsync("launch", "--uri", Path.Combine(home.Path, "trainer"), "--entrypoint", "python train.py", "--queue", "local", "--json");
        var fromImage = await cli.RunAsync("launch", "--image", "registry.example/team/train:3", "--entrypoint", "python train.py", "--queue", "local");
        var both = await cli.RunAsync("launch", "--job", "trainer", "--image", "x", "--queue", "local");

        Assert.True(fromDir.ExitCode == 0, fromDir.ToString());
        Assert.Equal("trainer:v0", JsonDocument.Parse(fromDir.Stdout).RootElement.GetProperty("job").GetString());
        Assert.Equal(1, fromImage.ExitCode);
        Assert.Contains("is an image job", fromImage.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("exactly one of --job", both.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LaunchUri_OnADirectoryWhoseJobExists_SaysWhetherItMadeANewVersionAndMovedLatest()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", await server.NewUserKeyAsync());
        home.File("trainer/train.py", "print('hi')\n");
        await cli.RunAsync("queue", "create", "local", "--resource", "local-process");
        string[] launch = ["launch", "--uri", Path.Combine(home.Path, "trainer"), "--entrypoint", "python train.py", "--queue", "local", "--project", "mnist"];

        var first = await cli.RunAsync(launch);
        var same = await cli.RunAsync(launch);
        home.File("trainer/train.py", "print('hello')\n");
        var edited = await cli.RunAsync(launch);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("Created job mnist/trainer:v0", first.Stderr, StringComparison.Ordinal);
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Contains("Unchanged: job mnist/trainer already has this definition as v0", same.Stderr, StringComparison.Ordinal);
        Assert.True(edited.ExitCode == 0, edited.ToString());
        Assert.Contains("Made a new version of job mnist/trainer: v1 (artifact); latest now points to it", edited.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LaunchDryRun_OnALocalProcessQueue_PrintsReadableYamlWithEveryVariable_AndJsonOnlyWithTheOption()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        using (var http = server.Http(key))
        {
            await TestJobs.CreateRepoJobAsync(http, "mnist", "train", configDefaults: """{"lr":0.1,"note":"a <b> \"c\""}""");
        }

        await cli.RunAsync("secret", "set", "HF_TOKEN", "--from-file", home.File("token", "hf_dry_run_value"));
        var queueConfig = home.File("queue.yaml", "env:\n  DATA: /data/${project_name}\n  HF_TOKEN: ${secret:HF_TOKEN}\n  PROMPT: \"line one\\nline two\"\n  RETRIES: 3\n");
        await cli.RunAsync("queue", "create", "yaml", "--resource", "local-process", "--config", queueConfig);

        var yaml = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "yaml", "--config", "lr=0.5", "--dry-run");
        var json = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "yaml", "--dry-run", "--json");

        Assert.True(yaml.ExitCode == 0, yaml.ToString());
        Assert.DoesNotContain("\\u00", yaml.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("item_", yaml.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("hf_dry_run_value", yaml.Stdout, StringComparison.Ordinal);
        var lines = yaml.Stdout.Split('\n');
        foreach (var line in new[] { "queue: yaml", "resource: local-process", "- python", "  lr: 0.5", "  note: a <b> \"c\"", "environment:", "  DATA: /data/mnist",
            "  HF_TOKEN: ${secret:HF_TOKEN}", "  PROMPT: |-", "    line one", "    line two", "  RETRIES: \"3\"", "    RETRIES: 3", "  LIFTOFF_RUN_ID: <run id, chosen at claim>",
            "  LIFTOFF_BASE_URL: <server URL as the agent reaches it>", "  PYTHONUNBUFFERED: \"1\"", "  LIFTOFF_CONFIG: '{\"lr\":0.5,\"note\":\"a <b> \\\"c\\\"\"}'" })
        {
            Assert.Contains(line, lines);
        }

        Assert.True(json.ExitCode == 0, json.ToString());
        Assert.Equal("yaml", JsonDocument.Parse(json.Stdout).RootElement.GetProperty("queue").GetString());
    }

    private static string Compact(JsonElement element) => System.Text.Json.Nodes.JsonNode.Parse(element.GetRawText())!.ToJsonString();

    [Fact]
    public async Task QueueCreate_WithBadTemplateVariable_FailsBeforeCallingTheServer()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", await server.NewUserKeyAsync());

        var result = await cli.RunAsync("queue", "create", "q", "--resource", "local-process", "--template-var", "gpus=float:1..2");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unknown type 'float'", result.Stderr, StringComparison.Ordinal);
    }
}
