using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests.Docker;

/// <summary>
/// deploy/docker/Dockerfile built from the checkout on the real engine, and run: the server image on a volume, an agent
/// container polling it with the engine's socket mounted, and a docker-target launch through that agent to its end.
/// No image registry is reachable here, so the build starts from the local stand-ins for the public .NET images that
/// scripts/setup/images.sh makes (the host's .NET on the test base image). The engine's layer cache keeps the built
/// layers: a build whose sources did not change takes seconds.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ContainerImageTests(DockerEngineFixture docker)
{
    private const string SdkImage = "liftoff-test/dotnet-sdk:10.0";
    private const string RuntimeImage = "liftoff-test/dotnet-aspnet:10.0";
    private const string ServerImage = "liftoff-test/server:checkout";
    private const string AgentImage = "liftoff-test/agent:checkout";
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(40);

    [Fact]
    public async Task ServerAndAgentImages_RunALaunchOnTheDockerTarget_AndTheServersDataOutlivesItsContainer()
    {
        await BuildAsync("server", ServerImage);
        await BuildAsync("agent", AgentImage);
        var name = "images-" + Guid.NewGuid().ToString("N")[..8];
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        try
        {
            await StartServerAsync(name, port);
            var key = await AdminKeyAsync(name);
            using var client = new LiftoffClient(new LiftoffSettings(new Uri(url), key));
            string[] cli = ["exec", "-e", $"LIFTOFF_BASE_URL={url}", "-e", $"LIFTOFF_API_KEY={key}", name + "-server", "liftoff"];

            await DockerOkAsync([.. cli, "queue", "create", name, "--resource", "docker"]);
            await DockerOkAsync([.. cli, "job", "create", "image", DockerEngineFixture.JobImage, "--name", name, "--project", "images",
                "--entrypoint", "python3 -c \"import liftoff, os; liftoff.init(); print('hello from', os.environ['LIFTOFF_RUN_ID']); liftoff.finish()\""]);
            var socket = new Uri(docker.Host).AbsolutePath;
            await DockerOkAsync(["run", "-d", "--name", name + "-agent", "--network", "host", "--health-interval", "1s",
                "-v", $"{socket}:/var/run/docker.sock", "--group-add", (await ProcessRunner.RunAsync("stat", ["-c", "%g", socket])).Stdout.Trim(),
                "-e", $"LIFTOFF_BASE_URL={url}", "-e", $"LIFTOFF_API_KEY={key}", AgentImage, "agent", "--queue", name, "--name", name]);
            await Poll.UntilAsync(() => client.ListAgentsAsync(), a => a.Agents.Any(x => x.Name == name && x.State == "polling"), TimeSpan.FromSeconds(60), "the agent container to poll");

            var launched = JsonDocument.Parse(await DockerOkAsync([.. cli, "launch", "--job", name, "--project", "images", "--queue", name, "--json"])).RootElement;
            var item = await Poll.UntilAsync(() => client.GetItemAsync(launched.GetProperty("id").GetString()!), i => i.State is ItemStates.Finished or ItemStates.Failed,
                TimeSpan.FromMinutes(3), "the item to end");

            Assert.True(item.State == ItemStates.Finished, $"{item.State} {item.Phase}: {item.Error}\n{await DockerAsync(["logs", name + "-agent"])}");
            var lines = new List<string>();
            await foreach (var line in client.ReadLogsAsync(item.RunId!))
            {
                lines.Add(line.Text);
            }

            Assert.Contains($"hello from {item.RunId}", lines);
            await Poll.UntilAsync(() => HealthAsync(name + "-agent"), h => h == "healthy", TimeSpan.FromSeconds(30), "the agent container's health check to pass");
            Assert.Equal("liftoff\n", await DockerOkAsync(["exec", name + "-agent", "id", "-un"]));

            // The data is the volume's: a new server container on it has the run, and the same admin key works.
            await DockerOkAsync(["rm", "-f", name + "-server"]);
            await StartServerAsync(name, port);
            Assert.Equal(RunStates.Finished, (await client.GetRunAsync(item.RunId!)).State);
        }
        finally
        {
            await DockerAsync(["rm", "-f", name + "-server", name + "-agent"]);
            await DockerAsync(["volume", "rm", "-f", name]);
        }
    }

    private static async Task StartServerAsync(string name, int port)
    {
        await DockerOkAsync(["run", "-d", "--name", name + "-server", "--network", "host", "--health-interval", "1s", "-v", $"{name}:/var/lib/liftoff",
            "-e", $"LIFTOFF_HEALTH_PORT={port}", ServerImage, "server", "--host", "127.0.0.1", "--port", $"{port}", "--data-dir", "/var/lib/liftoff"]);
        await Poll.UntilAsync(() => HealthAsync(name + "-server"), s => s == "healthy", TimeSpan.FromSeconds(90), "the server container's health check to pass");
    }

    /// <summary>The admin's API key, which the server's first start prints alone on stdout.</summary>
    private static async Task<string> AdminKeyAsync(string name)
    {
        var logs = await ProcessRunner.RunAsync("docker", ["logs", name + "-server"], Environment());
        return Assert.Single(logs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static async Task<string> HealthAsync(string container) => (await DockerAsync(["inspect", "-f", "{{.State.Health.Status}}", container])).Trim();

    private static async Task BuildAsync(string target, string tag)
    {
        foreach (var image in new[] { SdkImage, RuntimeImage })
        {
            if ((await ProcessRunner.RunAsync("docker", ["image", "inspect", image], Environment())).ExitCode != 0)
            {
                throw new InvalidOperationException($"the engine has no {image}: run scripts/setup/images.sh (as root) first");
            }
        }

        var build = await ProcessRunner.RunAsync("docker",
            ["build", "--network", "host", "-f", Path.Combine(Repo.Root, "deploy", "docker", "Dockerfile"), "--target", target,
             "--build-arg", $"SDK_IMAGE={SdkImage}", "--build-arg", $"RUNTIME_IMAGE={RuntimeImage}", "-t", tag, Repo.Root],
            Environment(), timeout: BuildTimeout);
        Assert.True(build.ExitCode == 0, build.ToString());
    }

    private static async Task<string> DockerOkAsync(string[] args)
    {
        var result = await ProcessRunner.RunAsync("docker", args, Environment());
        Assert.True(result.ExitCode == 0, $"docker {string.Join(' ', args)}: {result}");
        return result.Stdout;
    }

    private static async Task<string> DockerAsync(string[] args) => (await ProcessRunner.RunAsync("docker", args, Environment())).Stdout;

    /// <summary>The setup script's engine unless DOCKER_HOST names another; the engine's own builder (Debian's docker.io has no buildx).</summary>
    private static Dictionary<string, string?> Environment() => new()
    {
        ["DOCKER_HOST"] = System.Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : DockerEngineFixture.OwnEngine,
        ["DOCKER_BUILDKIT"] = "0",
    };

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
