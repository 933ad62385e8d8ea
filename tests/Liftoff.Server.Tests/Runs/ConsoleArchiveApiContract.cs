using System.Net;
using System.Text;
using System.Text.Json;
using Liftoff.Server.Blobs;
using Liftoff.Server.Storage;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Runs;

/// <summary>
/// Large consoles move to the blob store once their run ends (a real server whose sweeper archives any console over
/// 64 bytes at once), run against each store and blob store: readers cannot tell, and archived lines take no writes.
/// </summary>
public abstract class ConsoleArchiveApiContract(ServerFixture server)
{
    protected ServerFixture Server => server;

    private protected IRunStore Store => server.Server.Services.GetRequiredService<IRunStore>();

    [Fact]
    public async Task ReadLogs_AfterTheSweeperArchivesAnEndedRun_SendsTheSameBytesFromTheBlob()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        var id = await InitAsync(http);
        for (var offset = 0; offset < 2500; offset += 1000)
        {
            await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", Batch(offset, Math.Min(1000, 2500 - offset)))).JsonAsync();
        }

        var reads = new[] { "", "?after=499", "?after=999", "?after=2400", "?after=2499", "?after=-1" };
        var before = new List<byte[]>();
        foreach (var query in reads)
        {
            before.Add(await ReadAsync(http, id, query));
        }

        await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":0}""")).JsonAsync();
        var archive = await ArchivedAsync(id);

        Assert.Equal(2500, archive.Lines);
        Assert.Empty(await Store.ReadLogsAsync(id, -1, 10, default));
        Assert.True(await server.Server.Services.GetRequiredService<IBlobStore>().ExistsAsync(archive.Sha256!, default));
        for (var i = 0; i < reads.Length; i++)
        {
            var after = await ReadAsync(http, id, reads[i]);
            Assert.True(before[i].SequenceEqual(after), $"GET logs{reads[i]} differs after archiving");
        }

        var followed = await ReadAsync(http, id, "?follow=true");
        Assert.True(before[0].SequenceEqual(followed), "GET logs?follow=true differs after archiving");
        Assert.Equal(2500, Encoding.UTF8.GetString(before[0]).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(99, Encoding.UTF8.GetString(before[3]).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        using var client = server.Client(key);
        var numbers = new List<long>();
        await foreach (var line in client.ReadLogsAsync(id))
        {
            numbers.Add(line.Line);
        }

        Assert.Equal(Enumerable.Range(0, 2500).Select(n => (long)n), numbers);
    }

    [Fact]
    public async Task WriteLogs_AfterArchiving_BelowTheArchiveIsConflictAndAfterItIsReadAfterTheBlob()
    {
        using var http = server.Http(await server.NewUserKeyAsync());
        var id = await InitAsync(http);
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", Batch(0, 100))).JsonAsync();
        await (await http.PostJsonAsync($"/api/v1/runs/{id}/finish", """{"exit_code":1}""")).JsonAsync();
        await ArchivedAsync(id);

        var refused = await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", Batch(99, 2))).ProblemAsync(HttpStatusCode.Conflict);
        var accepted = await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", """{"offset":100,"lines":[{"stream":"stderr","text":"late one"},{"stream":"stdout","text":"late two"}]}""")).JsonAsync();
        var run = await (await http.GetAsync($"/api/v1/runs/{id}")).JsonAsync();
        var lines = Encoding.UTF8.GetString(await ReadAsync(http, id, "?after=97")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();

        Assert.Contains($"run {id}", refused.Detail(), StringComparison.Ordinal);
        Assert.Contains("archived", refused.Detail(), StringComparison.Ordinal);
        Assert.Equal(102, accepted.GetProperty("next_offset").GetInt64());
        Assert.Equal(102, run.GetProperty("log_lines").GetInt64());
        Assert.Equal([98L, 99, 100, 101], lines.Select(l => l.GetProperty("line").GetInt64()));
        Assert.Equal(["late one", "late two"], lines.Skip(2).Select(l => l.GetProperty("text").GetString()));
        Assert.Equal(2, (await Store.ReadLogsAsync(id, -1, 10, default)).Count);
    }

    /// <summary>Lines that exercise JSON escaping: quotes, backslashes, markup, non-ASCII text and both streams.</summary>
    protected static string Batch(int offset, int count) => JsonSerializer.Serialize(new
    {
        offset,
        lines = Enumerable.Range(offset, count).Select(n => new
        {
            stream = n % 7 == 0 ? "stderr" : "stdout",
            text = $"step {n}: loss=\"{1.0 / (n + 1):R}\" \\ <tqdm> ██▌ {n % 100}% ünïcødé",
            time = 1_700_000_000.25 + n,
        }),
    });

    protected static async Task<string> InitAsync(HttpClient http)
    {
        var run = await (await http.PostJsonAsync("/api/v1/runs", """{"project":"archive"}""")).JsonAsync(HttpStatusCode.Created);
        return run.GetProperty("id").GetString()!;
    }

    protected static async Task<byte[]> ReadAsync(HttpClient http, string id, string query)
    {
        using var response = await http.GetAsync($"/api/v1/runs/{id}/logs{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    private protected async Task<ConsoleArchive> ArchivedAsync(string id) => (await Poll.UntilAsync(
        () => Store.GetConsoleArchiveAsync(id, default),
        a => a is { IsComplete: true }, TimeSpan.FromSeconds(60), $"the sweeper to archive run {id}'s console"))!;
}
