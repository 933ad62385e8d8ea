using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class SlurmLaunchTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task LaunchDryRun_OnASlurmQueue_PrintsTheBatchScriptWithoutTheKey_AndAnItemOutsideTheAllowedPartitionsIsRefused()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var key = await server.NewUserKeyAsync();
        await cli.RunAsync("login", "--url", server.BaseUrl.ToString(), "--key", key);
        using (var http = server.Http(key))
        {
            await TestJobs.CreateRepoJobAsync(http, "mnist", "train");
        }

        var queueConfig = home.File("queue.yaml", """
            partition: cpu
            time: "1:00:00"
            allowed_partitions: [cpu, gpu]
            modules: [cuda/12.1]
            setup: ["source /opt/site/env.sh"]
            """);
        var create = await cli.RunAsync("queue", "create", "hpc", "--resource", "slurm", "--config", queueConfig);
        var args = home.File("args.yaml", "partition: gpu\nntasks: 2\nsignal: B:USR1@60\n");
        var dryRun = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "hpc", "--resource-args", args, "--dry-run");
        var outside = home.File("outside.yaml", "partition: bigmem\n");
        var refused = await cli.RunAsync("launch", "--job", "train", "--project", "mnist", "--queue", "hpc", "--resource-args", outside);

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        Assert.StartsWith("#!/bin/bash\n", dryRun.Stdout, StringComparison.Ordinal);
        foreach (var line in new[] { "#SBATCH --partition=\"gpu\"", "#SBATCH --time=\"1:00:00\"", "#SBATCH --ntasks=\"2\"", "#SBATCH --signal=\"B:USR1@60\"",
            "module load 'cuda/12.1'", "source /opt/site/env.sh", ". '<slurm.workdir>/<attempt folder>/secrets.env'", "exec srun " })
        {
            Assert.Contains(line + (line.EndsWith(' ') ? "" : "\n"), dryRun.Stdout, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(key, dryRun.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("API_KEY", dryRun.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("resource_args.partition", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("cpu, gpu", refused.Stderr, StringComparison.Ordinal);
    }
}
