using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Wandb;

/// <summary>
/// The real wandb JavaScript client (@wandb/sdk 0.5.1 from npm, pinned by tests/wandb-js/package-lock.json) runs an
/// unmodified wandb script against the server; the run is then read back through Liftoff's own API. Without node or
/// the install the test fails saying why: it never skips.
/// </summary>
public sealed class WandbJsClientTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const int Steps = 10_000;
    private const int ExitCode = 3;

    [Fact]
    public async Task JsClient_InitLogFinish_BecomesALiftoffRunWithConfigHistorySummaryAndState()
    {
        await WandbJs.InstallAsync();
        var key = await server.NewUserKeyAsync();

        var result = await WandbJs.RunAsync("run.mjs", new Dictionary<string, string?>
        {
            // The JS client appends "/graphql" to the base URL as given, so it must not end with a slash.
            ["WANDB_BASE_URL"] = server.BaseUrl.ToString().TrimEnd('/'),
            ["WANDB_API_KEY"] = key,
            ["LIFTOFF_STEPS"] = Steps.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LIFTOFF_EXIT_CODE"] = ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LIFTOFF_PROJECT"] = "wandb-js",
        });

        Assert.True(result.ExitCode == ExitCode, result.ToString());
        using var report = JsonDocument.Parse(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        var id = report.RootElement.GetProperty("id").GetString()!;
        using var client = server.Client(key);
        var run = await client.GetRunAsync(id);
        Assert.Equal(RunStates.Failed, run.State);
        Assert.Equal(ExitCode, run.ExitCode);
        Assert.Equal("wandb-js", run.Project);
        Assert.Equal(report.RootElement.GetProperty("name").GetString(), run.Name);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(report.RootElement.GetProperty("config").GetRawText()), JsonNode.Parse(run.Config.GetRawText())), run.Config.GetRawText());

        var rows = new List<HistoryRow>();
        await foreach (var row in client.ReadHistoryAsync(id))
        {
            rows.Add(row);
        }

        Assert.Equal(Enumerable.Range(0, Steps).Select(i => (long)i), rows.Select(r => r.Step));
        foreach (var row in rows)
        {
            var i = (int)row.Step;
            Assert.Equal(1.0 / (i + 1), row.Values.GetProperty("loss").GetDouble());
            Assert.Equal((double)i / Steps, row.Values.GetProperty("acc").GetDouble());
            Assert.Equal(i, row.Values.GetProperty("_step").GetInt32());
            Assert.True(row.Values.TryGetProperty("_runtime", out _), row.Values.GetRawText());
            // The client serializes with JSON.stringify, which writes NaN, Infinity and -Infinity as null: they leave
            // the script as null and Liftoff stores what arrives (the bare tokens of the Python client are kept).
            var odd = row.Values.GetProperty("odd");
            if (i % 100 is 3 or 5 or 7)
            {
                Assert.Equal(JsonValueKind.Null, odd.ValueKind);
            }
            else
            {
                Assert.Equal(i, odd.GetInt32());
            }
        }

        Assert.Equal(1.0 / Steps, run.Summary.GetProperty("loss").GetDouble());
        Assert.Equal((Steps - 1.0) / Steps, run.Summary.GetProperty("acc").GetDouble());
        Assert.Equal(Steps - 1, run.Summary.GetProperty("odd").GetInt32());
        Assert.Equal(Steps - 1, run.Summary.GetProperty("_step").GetInt32());
        Assert.Equal(Steps - 1, run.LastStep);
    }

    [Fact]
    public async Task JsClient_UnderALaunchedRunsKey_ReportsIntoThatRun()
    {
        await WandbJs.InstallAsync();
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "wandb-js", "train");
        using var client = server.Client(key);
        await client.CreateQueueAsync(new CreateQueueRequest("q", Resources.LocalProcess));
        await client.EnqueueAsync("q", new EnqueueRequest("train", "wandb-js"));
        var agent = await client.RegisterAgentAsync(new RegisterAgentRequest("a1", ["q"]));
        var claim = (await client.ClaimAsync(agent.Id, TimeSpan.Zero))!;

        var result = await WandbJs.RunAsync("run.mjs", new Dictionary<string, string?>(claim.Spec.Environment!)
        {
            ["WANDB_BASE_URL"] = server.BaseUrl.ToString().TrimEnd('/'),
            ["LIFTOFF_STEPS"] = "100",
            ["LIFTOFF_EXIT_CODE"] = "0",
            ["LIFTOFF_PROJECT"] = "wandb-js",
        });

        Assert.True(result.ExitCode == 0, result.ToString());
        var run = await client.GetRunAsync(claim.Spec.RunId);
        Assert.True(run.State == RunStates.Finished, result.ToString());
        Assert.Equal(99, run.LastStep);
    }
}

/// <summary>The real @wandb/sdk client: installed by scripts/setup/npm-packages.sh (npm ci from the lock file), run with node.</summary>
internal static class WandbJs
{
    public static string Directory => Path.Combine(Repo.Root, "tests", "wandb-js");

    /// <summary>Runs the idempotent install (a no-op when node_modules matches the lock); fails the test with its output.</summary>
    public static async Task InstallAsync()
    {
        var install = await Start("bash", [Path.Combine(Repo.Root, "scripts", "setup", "npm-packages.sh"), "wandb-js"], null, TimeSpan.FromMinutes(5));
        Assert.True(install.ExitCode == 0, $"installing @wandb/sdk with scripts/setup/npm-packages.sh failed:\n{install}");
    }

    public static Task<ProcessResult> RunAsync(string script, Dictionary<string, string?> env)
    {
        // Only what the test sets: nothing from the machine's own wandb settings.
        foreach (var inherited in new[] { "WANDB_MODE", "WANDB_ENTITY", "WANDB_PROJECT", "WANDB_DEBUG", "WANDB_WORKER", "WANDB_ENV", "WANDB_APP_URL" })
        {
            env.TryAdd(inherited, null);
        }

        return Start("node", [script], env, TimeSpan.FromMinutes(3));
    }

    private static async Task<ProcessResult> Start(string program, string[] args, Dictionary<string, string?>? env, TimeSpan timeout)
    {
        try
        {
            return await ProcessRunner.RunAsync(program, args, env, workingDirectory: Directory, timeout: timeout);
        }
        catch (Win32Exception ex)
        {
            Assert.Fail($"'{program}' could not be started ({ex.Message}): the wandb JS client tests need node >= 18 and npm (Debian: apt-get install nodejs npm)");
            throw;
        }
    }
}
