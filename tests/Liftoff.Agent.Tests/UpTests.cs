using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

public sealed class UpTests
{
    [Fact]
    public async Task Up_StartsTheDefaultQueueAndAnAgentThatRunsItsItems()
    {
        using var home = new TempDirectory();
        var port = LoopbackPort.Free();
        using var up = ProcessRunner.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll"), "up", "--port", port.ToString(CultureInfo.InvariantCulture)], new Dictionary<string, string?>
        {
            ["HOME"] = home.Path,
            ["XDG_CONFIG_HOME"] = null,
            ["XDG_DATA_HOME"] = null,
            ["XDG_CACHE_HOME"] = null,
            ["LIFTOFF_BASE_URL"] = null,
            ["LIFTOFF_API_KEY"] = null,
        });
        var stderr = new System.Text.StringBuilder();
        try
        {
            var key = await up.StandardOutput.ReadLineAsync();
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (await up.StandardError.ReadLineAsync(timeout.Token) is { } line && !line.Contains("Press Ctrl+C", StringComparison.Ordinal))
                {
                    stderr.AppendLine(line);
                }
            }

            _ = up.StandardError.ReadToEndAsync();
            using var client = new LiftoffClient(new LiftoffSettings(new Uri($"http://127.0.0.1:{port}"), key!));
            var queue = await client.GetQueueAsync("default");
            Assert.Equal(Resources.LocalProcess, queue.Resource);
            await Poll.UntilAsync(() => client.ListAgentsAsync(), l => l.Agents.Any(a => a.Queues.Contains("default")), TimeSpan.FromSeconds(30), "the agent of liftoff up");

            using var code = new TempDirectory();
            code.File("train.py", "import liftoff\nrun = liftoff.init()\nprint('hello from up', run.config['lr'])\nliftoff.finish()\n");
            var artifact = await client.UploadArtifactAsync(code.Path, "demo", "train-code", new ArtifactUploadOptions("code"));
            await client.CreateJobAsync(new CreateJobRequest("demo", "train", new JobDefinition(JobSourceTypes.Artifact,
                JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }), ["python", "train.py"]),
                ConfigDefaults: JsonDocument.Parse("""{"lr": 0.1}""").RootElement));
            var item = await client.EnqueueAsync("default", new EnqueueRequest("train", "demo", JsonDocument.Parse("""{"lr": 0.3}""").RootElement));

            var done = await Poll.UntilAsync(() => client.GetItemAsync(item.Id), i => i.State is ItemStates.Finished or ItemStates.Failed, TimeSpan.FromSeconds(60), "the item to end");
            Assert.True(done.State == ItemStates.Finished, $"{done.State}: {done.Error}\n{stderr}");
            var logs = new List<string>();
            await foreach (var line in client.ReadLogsAsync(done.RunId!))
            {
                logs.Add(line.Text);
            }

            Assert.Contains("hello from up 0.3", logs);
        }
        finally
        {
            if (!up.HasExited)
            {
                using var kill = System.Diagnostics.Process.Start("kill", ["-TERM", up.Id.ToString(CultureInfo.InvariantCulture)]);
                await kill.WaitForExitAsync();
            }

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await up.WaitForExitAsync(exit.Token);
        }

        Assert.Equal(0, up.ExitCode);
    }

}
