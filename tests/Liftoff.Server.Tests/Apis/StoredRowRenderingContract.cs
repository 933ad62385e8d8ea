using System.Net;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Runs;
using Liftoff.Server.Storage;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Apis;

/// <summary>
/// A listing never fails because of one stored row: rows written behind the API's back (through the store, so as any
/// older server or a hand edit could have left them) on each database.
/// </summary>
public abstract class StoredRowRenderingContract(ServerFixture server)
{
    [Fact]
    public async Task ListRuns_WithStoredRowsThatCannotBeRenderedAsTheyAre_AnswersEveryRunWithTheBadPartReplaced()
    {
        var key = await server.NewUserKeyAsync();
        using var http = server.Http(key);
        var good = await InitRunAsync(http, """{"project":"p","config":{"lr":0.1}}""");
        var entity = (await (await http.GetAsync($"/api/v1/runs/{good}")).JsonAsync()).GetProperty("entity").GetString()!;
        var entityId = (await server.Server.Services.GetRequiredService<IIdentityStore>().FindEntityAsync(entity, default))!.Id;
        var now = DateTimeOffset.UtcNow;
        await server.Server.Services.GetRequiredService<IRunStore>().TryCreateRunAsync(entityId, new RunRecord(
            "bad-row", entity, "p", "bad", RunStates.Running, """{"a":"x\ud800y","pair":"\ud83d\ude00","escaped":"\\ud800"}""", "not json {", null, null, null, null, null,
            now, now, null, now, false, null, 0), default);

        var response = await http.GetAsync("/api/v1/runs?project=p");
        var body = await response.Content.ReadAsStringAsync();
        var entityList = await (await http.GetAsync("/api/v1/runs")).JsonAsync();
        var bad = await (await http.GetAsync("/api/v1/runs/bad-row")).JsonAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var list = JsonDocument.Parse(body);
        Assert.Equal(2, list.RootElement.GetProperty("runs").GetArrayLength());
        Assert.Equal(2, entityList.GetProperty("runs").GetArrayLength());
        Assert.Equal("x\ufffdy", bad.GetProperty("config").GetProperty("a").GetString());
        Assert.Equal("\U0001F600", bad.GetProperty("config").GetProperty("pair").GetString());
        Assert.Equal("\\ud800", bad.GetProperty("config").GetProperty("escaped").GetString());
        Assert.Equal("not json {", bad.GetProperty("summary").GetProperty("_unreadable").GetString());
    }

    private static async Task<string> InitRunAsync(HttpClient http, string body) =>
        (await (await http.PostJsonAsync("/api/v1/runs", body)).JsonAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;
}

public sealed class SqliteStoredRowRenderingTests(ServerFixture server) : StoredRowRenderingContract(server), IClassFixture<ServerFixture>;

public sealed class PostgresStoredRowRenderingTests(PostgresServerFixture server) : StoredRowRenderingContract(server), IClassFixture<PostgresServerFixture>;
