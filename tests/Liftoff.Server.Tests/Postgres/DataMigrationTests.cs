using System.Text.Json;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Auth;
using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Liftoff.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Liftoff.Server.Tests.Postgres;

/// <summary><c>liftoff server migrate-data</c>: an installation populated through the API reads back the same on PostgreSQL.</summary>
public sealed class DataMigrationTests
{
    [Fact]
    public async Task TheCopy_CoversEveryColumnOfTheSqliteSchema()
    {
        using var directory = new TempDirectory();
        using var database = new SqliteDatabase(Path.Combine(directory.Path, "liftoff.db"));
        await Migrations.ApplyAsync(database, default);

        var schema = await database.ReadAsync(session => session.ListAsync("""
            SELECT t.name, c.name FROM sqlite_master t JOIN pragma_table_info(t.name) c
            WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%' AND t.name <> 'schema_migrations' ORDER BY t.name, c.cid
            """, r => (r.String(0), r.String(1)), default), default);

        var copied = SqliteToPostgres.Columns.SelectMany(t => t.Value.Select(c => (t.Key, c)));
        Assert.Equal(schema.Order(), copied.Order());
    }

    [Fact]
    public async Task MigrateData_FromAPopulatedSqliteServer_ReadsBackTheSameOnPostgres()
    {
        using var data = new TempDirectory();
        await using var schema = await PostgresSchema.CreateAsync();
        string adminKey, userKey, runKey, launchedRun, pendingItem, artifactFile, sessionCookie, archivedRun;
        IReadOnlyList<string> before;
        ConsoleArchive archive;
        NewKey accountKey;
        KeyPrincipal? accountPrincipal;
        await using (var sqlite = await StartAsync(data.Path, database: null, archiveConsoles: true))
        {
            adminKey = sqlite.InitialAdminKey!;
            (userKey, runKey, launchedRun, pendingItem, artifactFile, sessionCookie, archivedRun) = await PopulateAsync(sqlite.BaseUrl, adminKey, data.Path);
            var identities = sqlite.Services.GetRequiredService<IIdentityStore>();
            var alice = (await identities.FindEntityAsync("alice", default))!;
            var team = await identities.CreateTeamAsync("lab", alice.Id, DateTimeOffset.UtcNow, default);
            var account = await identities.CreateServiceAccountAsync(team.Id, "ci", EntityRole.Member, DateTimeOffset.UtcNow, default);
            accountKey = ApiKeys.Create("agent", DateTimeOffset.UtcNow, ["gpu"]).Key;
            await identities.AddKeyAsync(account.EntityId, accountKey, default);
            accountPrincipal = await identities.FindKeyAsync(accountKey.Hash, default);
            var store = sqlite.Services.GetRequiredService<IRunStore>();
            archive = (await Poll.UntilAsync(() => store.GetConsoleArchiveAsync(archivedRun, default), a => a is { IsComplete: true }, TimeSpan.FromSeconds(60), "the first run's console to be archived"))!;
            before = await SnapshotAsync(sqlite.BaseUrl, adminKey, userKey);
        }

        var copied = await DataMigration.SqliteToPostgresAsync("sqlite://" + data.Path, schema.ConnectionString, default);

        Assert.All(copied, c => Assert.True(c.Rows > 0, $"no rows copied into {c.Table}"));
        await using var postgres = await StartAsync(data.Path, schema.ConnectionString);
        Assert.Null(postgres.InitialAdminKey);
        Assert.Equal(archive, await postgres.Services.GetRequiredService<IRunStore>().GetConsoleArchiveAsync(archivedRun, default));
        Assert.Equal(before, await SnapshotAsync(postgres.BaseUrl, adminKey, userKey));
        var copiedTeam = (await postgres.Services.GetRequiredService<IIdentityStore>().FindEntityAsync("lab", default))!;
        Assert.Equal(["alice"], (await postgres.Services.GetRequiredService<IIdentityStore>().ListMembersAsync(copiedTeam.Id, default)).Select(m => m.User));
        Assert.NotNull(accountPrincipal);
        Assert.Equal(accountPrincipal, await postgres.Services.GetRequiredService<IIdentityStore>().FindKeyAsync(accountKey.Hash, default));

        using var user = new LiftoffClient(new LiftoffSettings(postgres.BaseUrl, userKey));
        var version = await user.GetArtifactVersionAsync("vision", "weights", "best");
        var downloaded = await user.DownloadArtifactAsync(version, Path.Combine(data.Path, "download"));
        Assert.Equal("tensor bytes", await File.ReadAllTextAsync(Path.Combine(downloaded, artifactFile)));
        using var job = new LiftoffClient(new LiftoffSettings(postgres.BaseUrl, runKey));
        Assert.Equal("running", (await job.HeartbeatAsync(launchedRun)).State);
        var newer = await user.InitRunAsync(new InitRunRequest("vision"));
        Assert.Equal(newer.Id, (await user.ListRunsAsync(limit: 1)).Runs[0].Id);
        Assert.Equal(pendingItem, (await user.EnqueueAsync("gpu", new EnqueueRequest("train", "vision", IdempotencyKey: "nightly"))).Id);
        var agent = await user.RegisterAgentAsync(new RegisterAgentRequest("after", ["gpu"]));
        Assert.Equal(pendingItem, (await user.ClaimAsync(agent.Id, TimeSpan.Zero))?.Item.Id);
        using var web = new HttpClient { BaseAddress = postgres.BaseUrl };
        web.DefaultRequestHeaders.Add("Cookie", sessionCookie);
        using var session = await web.GetAsync(new Uri("/web/session", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, session.StatusCode);
        Assert.Equal("alice", JsonDocument.Parse(await session.Content.ReadAsStringAsync()).RootElement.GetProperty("entity").GetString());
    }

    [Fact]
    public async Task MigrateData_IntoADatabaseThatHoldsData_RefusesAndCopiesNothing()
    {
        using var data = new TempDirectory();
        await using var schema = await PostgresSchema.CreateAsync();
        await (await StartAsync(data.Path, database: null)).DisposeAsync();
        await (await StartAsync(Path.Combine(data.Path, "other"), schema.ConnectionString)).DisposeAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => DataMigration.SqliteToPostgresAsync("sqlite://" + data.Path, schema.ConnectionString, default));

        Assert.Contains("already holds data", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A server; with <paramref name="archiveConsoles"/>, one that archives an ended run's console over 8 bytes at once.</summary>
    private static Task<LiftoffServer> StartAsync(string data, string? database, bool archiveConsoles = false)
    {
        var options = new ServerOptions { DataDirectory = data, Database = database, Port = 0 };
        if (archiveConsoles)
        {
            options.LogArchiveBytes = 8;
            options.LogArchiveGrace = TimeSpan.Zero;
        }

        return LiftoffServer.StartAsync(options, logging => logging.AddFilter(_ => false));
    }

    /// <summary>
    /// A bit of everything: users and keys, a web session, runs with history and console (the ended one's to be
    /// archived), an artifact, a job, a queue with items in several states, an agent.
    /// </summary>
    private static async Task<(string UserKey, string RunKey, string LaunchedRun, string PendingItem, string ArtifactFile, string SessionCookie, string ArchivedRun)> PopulateAsync(Uri baseUrl, string adminKey, string data)
    {
        using var admin = new LiftoffClient(new LiftoffSettings(baseUrl, adminKey));
        var userKey = (await admin.CreateUserAsync("alice")).Key.Key;
        using var user = new LiftoffClient(new LiftoffSettings(baseUrl, userKey));
        await user.SetSecretAsync("HF_TOKEN", "copied as ciphertext");
        var spare = await user.CreateKeyAsync("laptop");
        await user.RevokeKeyAsync(spare.Id);

        var run = await user.InitRunAsync(new InitRunRequest("vision", Name: "first", Config: Json("""{"lr":0.1,"layers":[64,32]}""")));
        await user.AppendHistoryAsync(run.Id, [new HistoryRow(0, Json("""{"loss":1.5}""")), new HistoryRow(1, Json("""{"loss":0.75,"acc":0.5}"""))]);
        await user.AppendLogsAsync(run.Id, 0, [new LogLine("stdout", "epoch 1"), new LogLine("stderr", "warning: ünïcode")]);
        var files = Path.Combine(data, "upload");
        Directory.CreateDirectory(Path.Combine(files, "nested"));
        await File.WriteAllTextAsync(Path.Combine(files, "nested", "model.bin"), "tensor bytes");
        await user.UploadArtifactAsync(files, "vision", "weights", new ArtifactUploadOptions("model") { Aliases = ["best"], RunId = run.Id });
        await user.FinishRunAsync(run.Id, 0);
        var second = await user.InitRunAsync(new InitRunRequest("text"));
        await user.UseArtifactAsync(second.Id, "weights:best", "vision");
        await user.AppendLogsAsync(second.Id, 0, [new LogLine("stdout", "loading")]);

        string sessionCookie;
        using (var web = new HttpClient { BaseAddress = baseUrl })
        {
            using var signIn = await web.PostAsync(new Uri("/web/session", UriKind.Relative), new StringContent($$"""{"key":"{{userKey}}"}""", System.Text.Encoding.UTF8, "application/json"));
            signIn.EnsureSuccessStatusCode();
            var setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
            sessionCookie = setCookie[..setCookie.IndexOf(';', StringComparison.Ordinal)];
        }

        using (var http = new HttpClient { BaseAddress = baseUrl })
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", userKey);
            await TestJobs.CreateRepoJobAsync(http, "vision", "train", configDefaults: """{"lr":0.1}""");
        }

        await user.CreateQueueAsync(new CreateQueueRequest("gpu", Resources.LocalProcess, MaxAttempts: 2));
        var claimed = await user.EnqueueAsync("gpu", new EnqueueRequest("train", "vision", Config: Json("""{"lr":0.5}"""), Priority: "high"));
        var pending = await user.EnqueueAsync("gpu", new EnqueueRequest("train", "vision", IdempotencyKey: "nightly"));
        var cancelled = await user.EnqueueAsync("gpu", new EnqueueRequest("train", "vision"));
        await user.CancelItemAsync(cancelled.Id);
        var agent = await user.RegisterAgentAsync(new RegisterAgentRequest("box", ["gpu"], Version: "1.0", Host: "box"));
        var claim = (await user.ClaimAsync(agent.Id, TimeSpan.Zero))!;
        Assert.Equal(claimed.Id, claim.Item.Id);
        using (var job = new LiftoffClient(new LiftoffSettings(baseUrl, claim.Spec.Environment["LIFTOFF_API_KEY"])))
        {
            await job.InitRunAsync(new InitRunRequest("vision", Id: claim.Spec.RunId));
        }

        await user.ReportItemAsync(claim.Item.Id, new ItemProgressRequest(1, ItemStates.Running));
        return (userKey, claim.Spec.Environment["LIFTOFF_API_KEY"], claim.Spec.RunId, pending.Id, Path.Combine("nested", "model.bin"), sessionCookie, run.Id);
    }

    /// <summary>What the API shows of the installation, as JSON texts, leaving out only what depends on the clock.</summary>
    private static async Task<IReadOnlyList<string>> SnapshotAsync(Uri baseUrl, string adminKey, string userKey)
    {
        using var admin = new LiftoffClient(new LiftoffSettings(baseUrl, adminKey));
        using var user = new LiftoffClient(new LiftoffSettings(baseUrl, userKey));
        var shown = new List<object>
        {
            await admin.GetViewerAsync(), await admin.ListKeysAsync(), await user.GetViewerAsync(), await user.ListKeysAsync(), await user.ListSecretsAsync(),
            await user.ListProjectsAsync(), await user.ListRunsAsync(), await user.ListArtifactsAsync(), await user.ListJobsAsync(),
            await user.DescribeJobAsync("vision", "train"), await user.ListArtifactVersionsAsync("vision", "weights"),
            await user.GetArtifactVersionAsync("vision", "weights", "best"), await user.ListAgentsAsync(),
        };
        foreach (var run in (await user.ListRunsAsync()).Runs)
        {
            shown.Add(await user.GetRunAsync(run.Id));
            shown.AddRange(await user.ReadHistoryAsync(run.Id).ToListAsync());
            shown.AddRange(await user.ReadLogsAsync(run.Id).ToListAsync());
            shown.Add(await user.ListRunArtifactsAsync(run.Id));
        }

        foreach (var queue in (await user.ListQueuesAsync()).Queues)
        {
            shown.Add((await user.GetQueueAsync(queue.Name)) with { OldestPendingSeconds = null });
            shown.Add(await user.ListItemsAsync(queue.Name));
        }

        return [.. shown.Select(o => JsonSerializer.Serialize(o, o.GetType(), LiftoffJsonContext.Default.Options))];
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
