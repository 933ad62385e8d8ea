using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Web.Tests;

/// <summary>
/// What a user does outside the browser, for the tests to set up: the real liftoff CLI (queues, the agent) as child
/// processes with their own HOME, and the .NET SDK (a job from code). With <paramref name="entity"/> they act on that
/// team, as LIFTOFF_ENTITY and the SDK's entity setting make them.
/// </summary>
internal sealed class Tools(BrowserFixture server, string key, string? entity = null) : IAsyncDisposable
{
    private static readonly string CliDll = Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll");
    private readonly TempDirectory _home = new();
    private readonly List<(Process Process, StringBuilder Output)> _agents = [];

    public LiftoffClient Client { get; } = new(new LiftoffSettings(server.BaseUrl, key) { Entity = entity });

    public async Task CliAsync(params string[] args)
    {
        var result = await ProcessRunner.RunAsync("dotnet", [CliDll, .. args], Environment());
        Assert.True(result.ExitCode == 0, $"liftoff {string.Join(' ', args)} failed: {result}");
    }

    public string File(string name, string content) => _home.File(name, content);

    /// <summary>A job whose code is one Python file, uploaded as a code artifact, with the given input schema.</summary>
    public async Task CreateJobAsync(string project, string name, string script, string inputTypes)
    {
        using var code = new TempDirectory();
        code.File("train.py", script);
        var artifact = await Client.UploadArtifactAsync(code.Path, project, name + "-code", new ArtifactUploadOptions("code"));
        await Client.CreateJobAsync(new CreateJobRequest(project, name, new JobDefinition(
            JobSourceTypes.Artifact,
            JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{artifact.Name}:{artifact.Version}" }),
            ["python", "train.py"],
            InputTypes: JsonDocument.Parse(inputTypes).RootElement.Clone())));
    }

    /// <summary><c>liftoff agent</c> on <paramref name="queue"/>, heartbeating fast so stops show quickly; killed on dispose.</summary>
    public void StartAgent(string queue)
    {
        var config = File("agent.yaml", $"""
            name: web-test-agent
            queues: [{queue}]
            heartbeat_seconds: 0.5
            stop_grace_seconds: 2
            python: {Python.Executable}
            work_dir: {Path.Combine(_home.Path, "agent")}
            """);
        var process = ProcessRunner.Start("dotnet", [CliDll, "agent", "--config", config], Environment());
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _agents.Add((process, output));
    }

    /// <summary>What the agents said, for a failing test's message.</summary>
    public string AgentOutput()
    {
        var all = new StringBuilder();
        foreach (var (_, output) in _agents)
        {
            lock (output)
            {
                all.Append(output);
            }
        }

        return all.ToString();
    }

    private Dictionary<string, string?> Environment() => new()
    {
        ["HOME"] = _home.Path,
        ["XDG_CONFIG_HOME"] = null,
        ["XDG_CACHE_HOME"] = null,
        ["LIFTOFF_BASE_URL"] = server.BaseUrl.ToString(),
        ["LIFTOFF_API_KEY"] = key,
        ["LIFTOFF_ENTITY"] = entity,
        ["NO_COLOR"] = "1",
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var (process, _) in _agents)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        Client.Dispose();
        _home.Dispose();
    }
}
