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
        var dryRun = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "gpu", "--config", "lr=0.5", "--set-var", "gpus=2", "--resource-args", args, "--dry-run");
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
        var delete = await cli.RunAsync("queue", "delete", "gpu");

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains("cancelled", cancel.Stderr, StringComparison.Ordinal);
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
