using System.Security.Cryptography;
using System.Text;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests;

/// <summary>Secrets through a real agent: the job gets the value, everything the agent reports shows it masked.</summary>
public sealed class SecretsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    /// <summary>
    /// Prints the secret to stdout and stderr, records hashes of what it received in its summary, then fails quoting it.
    /// The variable names hold no secret-looking word, so only the secret's own redaction can mask them.
    /// </summary>
    public const string Job = """
        import hashlib, os, sys
        import liftoff
        run = liftoff.init()
        value = os.environ["DATA_ACCESS"]
        run.summary["value_sha256"] = hashlib.sha256(value.encode()).hexdigest()
        run.summary["header_sha256"] = hashlib.sha256(os.environ["AUTH_HEADER"].encode()).hexdigest()
        print("the value is", value)
        print("the header is", os.environ["AUTH_HEADER"], file=sys.stderr)
        raise RuntimeError("could not log in with " + value)
        """;

    public const string QueueConfig = """{"env":{"DATA_ACCESS":"${secret:DATA_ACCESS}","AUTH_HEADER":"Bearer ${secret:DATA_ACCESS}"}}""";

    [Fact]
    public async Task LocalProcess_JobReceivesTheSecret_ConsoleAndItemErrorShowItRedacted()
    {
        await using var harness = await AgentHarness.StartAsync(server, maxAttempts: 1, queueConfigJson: QueueConfig);
        var value = "pw-" + Guid.NewGuid().ToString("N");
        await harness.Client.SetSecretAsync("DATA_ACCESS", value);
        var job = await harness.CreateJobAsync("uses-secret", new Dictionary<string, string> { ["train.py"] = Job }, ["python", "train.py"]);
        await harness.StartAgentAsync();

        var item = await harness.EnqueueAsync(job);
        var done = await harness.WaitForItemAsync(item.Id, i => i.State is ItemStates.Finished or ItemStates.Failed, "the item to end");

        await AssertDeliveredAndRedactedAsync(harness, done, value);
    }

    /// <summary>
    /// The job saw the real value (its hashes match), and neither the console nor the item's error holds it. A target
    /// whose log merges the streams (a pod's) leaves no stderr tail for the error to quote (<paramref name="errorQuotesStderr"/>).
    /// </summary>
    internal static async Task AssertDeliveredAndRedactedAsync(AgentHarness harness, ItemInfo done, string value, bool errorQuotesStderr = true)
    {
        Assert.True(done.State == ItemStates.Failed, $"{done.State} {done.Phase}: {done.Error}");
        var run = await harness.Client.GetRunAsync(done.RunId!);
        Assert.Equal(Sha256(value), run.Summary.GetProperty("value_sha256").GetString());
        Assert.Equal(Sha256("Bearer " + value), run.Summary.GetProperty("header_sha256").GetString());
        var logs = await harness.LogsAsync(run.Id);
        Assert.Contains("the value is [redacted]", logs, StringComparison.Ordinal);
        Assert.Contains("the header is Bearer [redacted]", logs, StringComparison.Ordinal);
        Assert.DoesNotContain(value, logs, StringComparison.Ordinal);
        Assert.True(!errorQuotesStderr || done.Error!.Contains("could not log in with [redacted]", StringComparison.Ordinal), done.Error);
        Assert.DoesNotContain(value, done.Error, StringComparison.Ordinal);
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
