using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Runs;

/// <summary>Console archives on SQLite with blobs on the filesystem (the defaults).</summary>
public sealed class ConsoleArchiveApiTests(LogArchiveServerFixture server) : ConsoleArchiveApiContract(server), IClassFixture<LogArchiveServerFixture>;

/// <summary>Console archives on PostgreSQL, where several replicas sweep at once.</summary>
public sealed class PostgresConsoleArchiveApiTests(PostgresLogArchiveServerFixture server) : ConsoleArchiveApiContract(server), IClassFixture<PostgresLogArchiveServerFixture>
{
    [Fact]
    public async Task Sweep_TwoReplicasAtOnce_ArchiveEveryRunOnceAndLoseNoLine()
    {
        await using var second = await Server.StartServerAsync();
        using var http = Server.Http(await Server.NewUserKeyAsync());
        using var other = new HttpClient { BaseAddress = second.BaseUrl };
        other.DefaultRequestHeaders.Authorization = http.DefaultRequestHeaders.Authorization;
        var runs = new List<(string Id, int Lines, byte[] Bytes)>();
        for (var i = 0; i < 6; i++)
        {
            var id = await InitAsync(http);
            await (await http.PostJsonAsync($"/api/v1/runs/{id}/logs", Batch(0, 300 + i))).JsonAsync();
            runs.Add((id, 300 + i, await ReadAsync(http, id, "")));
        }

        foreach (var run in runs)
        {
            await (await other.PostJsonAsync($"/api/v1/runs/{run.Id}/finish", """{"exit_code":0}""")).JsonAsync();
        }

        foreach (var (id, lines, bytes) in runs)
        {
            Assert.Equal(lines, (await ArchivedAsync(id)).Lines);
            Assert.Empty(await Store.ReadLogsAsync(id, -1, 10, default));
            var throughSecond = await ReadAsync(other, id, "");
            var throughFirst = await ReadAsync(http, id, "");
            Assert.True(bytes.SequenceEqual(throughSecond), $"run {id} reads differently through the second replica");
            Assert.True(bytes.SequenceEqual(throughFirst), $"run {id} reads differently through the first replica");
        }
    }
}

/// <summary>Console archives with blobs in a bucket of s3rver.</summary>
public sealed class S3ConsoleArchiveApiTests(S3LogArchiveServerFixture server) : ConsoleArchiveApiContract(server), IClassFixture<S3LogArchiveServerFixture>;
