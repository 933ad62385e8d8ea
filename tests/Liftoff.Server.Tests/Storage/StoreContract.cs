using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Liftoff.Core.Json;
using Liftoff.Core.Runs;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>
/// The store contract: every implementation (SQLite now, PostgreSQL next) runs these by subclassing and providing
/// a fresh, empty store.
/// </summary>
public abstract partial class StoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);

    private protected IIdentityStore Identities { get; private set; } = null!;

    private protected IRunStore Runs { get; private set; } = null!;

    private protected IArtifactStore Artifacts { get; private set; } = null!;

    private protected IQueueStore Queues { get; private set; } = null!;

    private protected IAuditStore Audit { get; private set; } = null!;

    private protected abstract Task<(IIdentityStore Identities, IRunStore Runs, IArtifactStore Artifacts, IQueueStore Queues, IAuditStore Audit)> CreateStoreAsync();

    public async Task InitializeAsync() => (Identities, Runs, Artifacts, Queues, Audit) = await CreateStoreAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task CreateEntity_WhenNameTaken_ThrowsDuplicate()
    {
        await NewEntityAsync("alice");
        await Assert.ThrowsAsync<DuplicateException>(() => NewEntityAsync("alice"));
    }

    [Fact]
    public async Task FindKey_ByHash_ReturnsPrincipalUntilRevoked()
    {
        var (key, secret) = ApiKeys.Create("laptop", T0);
        var entity = await Identities.CreateEntityAsync("bob", admin: true, key, default);

        var principal = await Identities.FindKeyAsync(ApiKeys.Hash(secret), default);
        Assert.Equal(new KeyPrincipal(key.Id, entity.Id, "bob", true), principal);

        Assert.True(await Identities.RevokeKeyAsync(entity.Id, key.Id, T0.AddMinutes(1), default));
        Assert.Null(await Identities.FindKeyAsync(ApiKeys.Hash(secret), default));
        var listed = Assert.Single(await Identities.ListKeysAsync(entity.Id, default));
        Assert.Equal(T0.AddMinutes(1), listed.RevokedAt);
    }

    [Fact]
    public async Task RevokeKey_OfAnotherEntity_ChangesNothing()
    {
        var owner = await NewEntityAsync("owner");
        var other = await NewEntityAsync("other");
        var ownerKey = Assert.Single(await Identities.ListKeysAsync(owner.Id, default));

        Assert.False(await Identities.RevokeKeyAsync(other.Id, ownerKey.Id, T0, default));
        Assert.Null(Assert.Single(await Identities.ListKeysAsync(owner.Id, default)).RevokedAt);
    }

    [Fact]
    public async Task TryCreateRun_WhenIdTakenByAnyEntity_ReturnsFalse()
    {
        var a = await NewEntityAsync("a");
        var b = await NewEntityAsync("b");
        Assert.True(await Runs.TryCreateRunAsync(a.Id, NewRun("a", "run1"), default));
        Assert.False(await Runs.TryCreateRunAsync(a.Id, NewRun("a", "run1"), default));
        Assert.False(await Runs.TryCreateRunAsync(b.Id, NewRun("b", "run1"), default));
        Assert.Null(await Runs.GetRunAsync(b.Id, "run1", default));
    }

    [Fact]
    public async Task GetRun_RoundTripsEveryField()
    {
        var e = await NewEntityAsync("e");
        var run = NewRun("e", "full") with
        {
            ConfigJson = """{"lr":0.1}""", Host = "h", Os = "linux", Program = "train.py", PythonVersion = "3.11.7",
            CrashOnSilence = false, WandbJson = """{"cli_version":"0.19.0","t":{"1":[1]}}""",
        };
        await Runs.TryCreateRunAsync(e.Id, run, default);

        Assert.Equal(run, await Runs.GetRunAsync(e.Id, "full", default));
    }

    [Fact]
    public async Task UpdateRun_WritesCrashOnSilenceAndWandbJson()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r") with { CrashOnSilence = false }, default);

        await Runs.UpdateRunAsync(e.Id, "r", r => r with { CrashOnSilence = true, WandbJson = """{"t":{}}""" }, default);

        var stored = await Runs.GetRunAsync(e.Id, "r", default);
        Assert.True(stored!.CrashOnSilence);
        Assert.Equal("""{"t":{}}""", stored.WandbJson);
    }

    [Fact]
    public async Task UpdateRun_WhenChangeThrows_WritesNothing()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);

        await Assert.ThrowsAsync<RunConflictException>(() => Runs.UpdateRunAsync(e.Id, "r", _ => throw new RunConflictException("no"), default));
        Assert.Equal(RunStates.Running, (await Runs.GetRunAsync(e.Id, "r", default))!.State);
        Assert.Null(await Runs.UpdateRunAsync(e.Id, "missing", r => r, default));
    }

    [Fact]
    public async Task AppendHistory_ReplayedPrefix_IsSkippedAndNewRowsStored()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);
        await Runs.AppendHistoryAsync(e.Id, "r", Rows(0, 1, 2), (run, _) => run, default);

        var replays = -1;
        var result = await Runs.AppendHistoryAsync(e.Id, "r", Rows(1, 2, 3, 4), (run, replayed) => { replays = replayed; return run; }, default);

        Assert.Equal(2, replays);
        Assert.Equal(2, result!.Accepted);
        Assert.Equal(4, result.Run.LastStep);
        Assert.Equal([0L, 1, 2, 3, 4], (await Runs.ReadHistoryAsync("r", -1, 100, default)).Select(r => r.Step));
    }

    [Fact]
    public async Task AppendHistory_StepBackwardsNotStored_ThrowsAndWritesNothing()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);
        await Runs.AppendHistoryAsync(e.Id, "r", Rows(0, 5), (run, _) => run, default);

        var error = await Assert.ThrowsAsync<StoreValidationException>(() => Runs.AppendHistoryAsync(e.Id, "r", Rows(3, 6, 7), (run, _) => run, default));

        Assert.Contains("out of order", error.Message, StringComparison.Ordinal);
        Assert.Equal([0L, 5], (await Runs.ReadHistoryAsync("r", -1, 100, default)).Select(r => r.Step));
        Assert.Equal(5, (await Runs.GetRunAsync(e.Id, "r", default))!.LastStep);
    }

    [Fact]
    public async Task AppendHistory_RunOfAnotherEntity_ReturnsNullAndWritesNothing()
    {
        var owner = await NewEntityAsync("owner");
        var other = await NewEntityAsync("other");
        await Runs.TryCreateRunAsync(owner.Id, NewRun("owner", "r"), default);

        Assert.Null(await Runs.AppendHistoryAsync(other.Id, "r", Rows(0), (run, _) => run, default));
        Assert.Empty(await Runs.ReadHistoryAsync("r", -1, 100, default));
    }

    [Fact]
    public async Task AppendHistory_AppliesChangeInSameTransaction()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);
        var rows = Rows(0, 1);

        await Runs.AppendHistoryAsync(e.Id, "r", rows, (run, _) => run with { SummaryJson = JsonObjects.WithLastValues(run.SummaryJson, rows.Select(r => JsonDocument.Parse(r.ValuesJson).RootElement)) }, default);

        Assert.Equal("""{"loss":1}""", (await Runs.GetRunAsync(e.Id, "r", default))!.SummaryJson);
    }

    [Fact]
    public async Task ReadHistory_PagesAfterStep()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);
        await Runs.AppendHistoryAsync(e.Id, "r", Rows([.. Enumerable.Range(0, 10).Select(i => (long)i)]), (run, _) => run, default);

        var page = await Runs.ReadHistoryAsync("r", 3, 4, default);

        Assert.Equal([4L, 5, 6, 7], page.Select(r => r.Step));
        Assert.Equal("""{"loss":4}""", page[0].ValuesJson);
    }

    [Fact]
    public async Task AppendLogs_SameLineTwice_KeepsFirstAndCountsOnce()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);
        await Runs.AppendLogsAsync(e.Id, "r", 0, Lines(0, "a", "b"), r => r, default);

        var run = await Runs.AppendLogsAsync(e.Id, "r", 1, Lines(1, "B", "c"), r => r, default);

        Assert.Equal(3, run!.LogLines);
        Assert.Equal(["a", "b", "c"], (await Runs.ReadLogsAsync("r", -1, 100, default)).Select(l => l.Text));
    }

    [Fact]
    public async Task AppendLogs_LeavingAGap_Throws()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);

        var error = await Assert.ThrowsAsync<StoreValidationException>(() => Runs.AppendLogsAsync(e.Id, "r", 2, Lines(2, "x"), r => r, default));

        Assert.Equal("offset", error.Field);
        Assert.Empty(await Runs.ReadLogsAsync("r", -1, 100, default));
    }

    [Fact]
    public async Task WriteLogs_SameLineTwice_KeepsLastTextAndCountsOnce()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);
        await Runs.WriteLogsAsync(e.Id, "r", Lines(0, "epoch 1", " 10%"), r => r, default);

        var run = await Runs.WriteLogsAsync(e.Id, "r", [new StoredLogLine(1, "stderr", "100%", 2000)], r => r, default);

        Assert.Equal(2, run!.LogLines);
        var lines = await Runs.ReadLogsAsync("r", -1, 100, default);
        Assert.Equal([("stdout", "epoch 1", 1000.0), ("stderr", "100%", 2000.0)], lines.Select(l => (l.Stream, l.Text, l.Time)));
    }

    [Fact]
    public async Task WriteLogs_WithGap_StoresLinesAtTheirNumbersAndCountsToTheHighest()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r"), default);

        var run = await Runs.WriteLogsAsync(e.Id, "r", Lines(5, "five", "six"), r => r with { Name = "changed" }, default);
        await Runs.WriteLogsAsync(e.Id, "r", Lines(2, "two"), r => r, default);

        Assert.Equal(7, run!.LogLines);
        Assert.Equal("changed", (await Runs.GetRunAsync(e.Id, "r", default))!.Name);
        Assert.Equal([2L, 5, 6], (await Runs.ReadLogsAsync("r", -1, 100, default)).Select(l => l.Line));
        Assert.Equal(7, (await Runs.GetRunAsync(e.Id, "r", default))!.LogLines);
    }

    [Fact]
    public async Task WriteLogs_RunOfAnotherEntity_ReturnsNullAndWritesNothing()
    {
        var owner = await NewEntityAsync("owner");
        var other = await NewEntityAsync("other");
        await Runs.TryCreateRunAsync(owner.Id, NewRun("owner", "r"), default);

        Assert.Null(await Runs.WriteLogsAsync(other.Id, "r", Lines(0, "x"), r => r, default));
        Assert.Empty(await Runs.ReadLogsAsync("r", -1, 100, default));
    }

    [Fact]
    public async Task ListRuns_PagesNewestFirstAndFilters()
    {
        var e = await NewEntityAsync("e");
        for (var i = 0; i < 5; i++)
        {
            await Runs.TryCreateRunAsync(e.Id, NewRun("e", $"r{i}") with { Project = i % 2 == 0 ? "even" : "odd" }, default);
        }

        var first = await Runs.ListRunsAsync(new RunQuery(e.Id, null, null, 2, null), default);
        var second = await Runs.ListRunsAsync(new RunQuery(e.Id, null, null, 2, first.NextBefore), default);
        var third = await Runs.ListRunsAsync(new RunQuery(e.Id, null, null, 2, second.NextBefore), default);
        var even = await Runs.ListRunsAsync(new RunQuery(e.Id, "even", null, 10, null), default);

        Assert.Equal(["r4", "r3", "r2", "r1", "r0"], first.Runs.Concat(second.Runs).Concat(third.Runs).Select(r => r.Id));
        Assert.Null(third.NextBefore);
        Assert.Equal(["r4", "r2", "r0"], even.Runs.Select(r => r.Id));
        var projects = await Runs.ListProjectsAsync(e.Id, default);
        Assert.Equal([("even", 3L), ("odd", 2L)], projects.Select(p => (p.Name, p.RunCount)));
    }

    [Fact]
    public async Task CrashSilentRuns_CrashesOnlyRunningRunsSilentSinceTheCutoff()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "silent") with { HeartbeatAt = T0 }, default);
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "alive") with { HeartbeatAt = T0.AddMinutes(5) }, default);
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "done") with { HeartbeatAt = T0, State = RunStates.Finished }, default);

        var crashed = await Runs.CrashSilentRunsAsync(T0.AddMinutes(1), T0.AddMinutes(6), default);

        Assert.Equal(["silent"], crashed);
        Assert.Equal(RunStates.Crashed, (await Runs.GetRunAsync(e.Id, "silent", default))!.State);
        Assert.Equal(T0.AddMinutes(6), (await Runs.GetRunAsync(e.Id, "silent", default))!.EndedAt);
        Assert.Equal(RunStates.Running, (await Runs.GetRunAsync(e.Id, "alive", default))!.State);
        Assert.Equal(RunStates.Finished, (await Runs.GetRunAsync(e.Id, "done", default))!.State);
    }

    [Fact]
    public async Task CrashSilentRuns_LeavesRunsThatDoNotCrashOnSilence()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "quiet") with { HeartbeatAt = T0, CrashOnSilence = false }, default);
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "native") with { HeartbeatAt = T0 }, default);

        var crashed = await Runs.CrashSilentRunsAsync(T0.AddMinutes(1), T0.AddMinutes(6), default);

        Assert.Equal(["native"], crashed);
        Assert.Equal(RunStates.Running, (await Runs.GetRunAsync(e.Id, "quiet", default))!.State);
    }

    [Fact]
    public async Task AppendHistory_ConcurrentWritersOnManyRuns_StoreEveryRow()
    {
        var e = await NewEntityAsync("e");
        var ids = Enumerable.Range(0, 8).Select(i => $"c{i}").ToList();
        foreach (var id in ids)
        {
            await Runs.TryCreateRunAsync(e.Id, NewRun("e", id), default);
        }

        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            for (var batch = 0; batch < 10; batch++)
            {
                await Runs.AppendHistoryAsync(e.Id, id, Rows([.. Enumerable.Range(batch * 50, 50).Select(i => (long)i)]), (run, _) => run, default);
            }
        })));

        foreach (var id in ids)
        {
            Assert.Equal(500, (await Runs.ReadHistoryAsync(id, -1, 1000, default)).Count);
            Assert.Equal(499, (await Runs.GetRunAsync(e.Id, id, default))!.LastStep);
        }
    }

    [Fact]
    public async Task CommitVersion_NewContent_NumbersFromZeroAndLatestNamesTheNewest()
    {
        var e = await NewEntityAsync("e");
        var first = await CommitAsync(e.Id, "data", Blob("a", 1));
        var second = await CommitAsync(e.Id, "data", Blob("b", 2));

        Assert.True(first.Created);
        Assert.True(second.Created);
        Assert.Equal([0, 1], new[] { first.Version.Version, second.Version.Version });
        Assert.Equal(["latest"], second.Version.Aliases);
        Assert.Empty((await Artifacts.GetVersionAsync(e.Id, "proj", "data", "v0", default))!.Aliases);
        Assert.Equal(1, (await Artifacts.GetVersionAsync(e.Id, "proj", "data", "latest", default))!.Version);
    }

    [Fact]
    public async Task CommitVersion_ContentOfAnExistingVersion_IsThatVersionAndTakesTheAliases()
    {
        var e = await NewEntityAsync("e");
        var a = Blob("a", 1);
        await CommitAsync(e.Id, "data", a);
        await CommitAsync(e.Id, "data", Blob("b", 2));

        var again = await CommitAsync(e.Id, "data", a, aliases: ["best"]);

        Assert.False(again.Created);
        Assert.Equal(0, again.Version.Version);
        Assert.Equal(["best"], again.Version.Aliases);
        Assert.Equal(2, (await Artifacts.ListVersionsAsync(e.Id, "proj", "data", default))!.Count);
        Assert.Equal(1, (await Artifacts.GetVersionAsync(e.Id, "proj", "data", "latest", default))!.Version);
    }

    [Fact]
    public async Task CommitVersion_BlobUploadedOnlyByAnotherEntity_ThrowsNamingTheFileAndStoresNothing()
    {
        var owner = await NewEntityAsync("owner");
        var thief = await NewEntityAsync("thief");
        var file = Blob("secret", 6);
        var mine = Blob("mine", 4);
        await Artifacts.AddBlobAsync(owner.Id, file.Sha256, file.Size, T0, default);
        await Artifacts.AddBlobAsync(thief.Id, mine.Sha256, mine.Size, T0, default);

        var error = await Assert.ThrowsAsync<StoreValidationException>(() => Artifacts.CommitVersionAsync(thief.Id, Version("stolen", [mine, file]), default));

        Assert.Equal("files[1].sha256", error.Field);
        Assert.Null(await Artifacts.ListVersionsAsync(thief.Id, "proj", "stolen", default));
        Assert.Empty(await Artifacts.FindBlobsAsync(thief.Id, [file.Sha256], default));
        Assert.Equal(6, (await Artifacts.FindBlobsAsync(owner.Id, [file.Sha256], default))[file.Sha256]);
    }

    [Fact]
    public async Task CommitVersion_SizeOtherThanTheBlobs_ThrowsNamingTheSize()
    {
        var e = await NewEntityAsync("e");
        var file = Blob("a", 10);
        await Artifacts.AddBlobAsync(e.Id, file.Sha256, file.Size, T0, default);

        var error = await Assert.ThrowsAsync<StoreValidationException>(() => Artifacts.CommitVersionAsync(e.Id, Version("data", [file with { Size = 11 }]), default));

        Assert.Equal("files[0].size", error.Field);
        Assert.Null(await Artifacts.ListVersionsAsync(e.Id, "proj", "data", default));
    }

    [Fact]
    public async Task CommitVersion_OtherTypeThanTheCollection_ThrowsNamingTheType()
    {
        var e = await NewEntityAsync("e");
        await CommitAsync(e.Id, "data", Blob("a", 1));

        var error = await Assert.ThrowsAsync<StoreValidationException>(() => CommitAsync(e.Id, "data", Blob("b", 1), type: "model"));

        Assert.Equal("type", error.Field);
        Assert.Single((await Artifacts.ListVersionsAsync(e.Id, "proj", "data", default))!);
    }

    [Fact]
    public async Task GetVersion_ByNumberAliasOrLatest_ReturnsItsFilesSortedByPath()
    {
        var e = await NewEntityAsync("e");
        var files = new[] { Blob("z/b.txt", 3), Blob("a.txt", 5) };
        foreach (var file in files)
        {
            await Artifacts.AddBlobAsync(e.Id, file.Sha256, file.Size, T0, default);
        }

        await Artifacts.CommitVersionAsync(e.Id, Version("data", files, ["gold"]), default);

        foreach (var reference in new[] { "v0", "gold", "latest" })
        {
            var version = (await Artifacts.GetVersionAsync(e.Id, "proj", "data", reference, default))!;
            Assert.Equal(["a.txt", "z/b.txt"], version.Files!.Select(f => f.Path));
            Assert.Equal(8, version.Size);
            Assert.Equal(2, version.FileCount);
        }

        Assert.Null(await Artifacts.GetVersionAsync(e.Id, "proj", "data", "v1", default));
        Assert.Null(await Artifacts.GetVersionAsync(e.Id, "proj", "data", "silver", default));
    }

    [Fact]
    public async Task SetAlias_MovesItFromTheVersionThatHadIt()
    {
        var e = await NewEntityAsync("e");
        await CommitAsync(e.Id, "data", Blob("a", 1), aliases: ["prod"]);
        await CommitAsync(e.Id, "data", Blob("b", 1));

        var moved = await Artifacts.SetAliasAsync(e.Id, "proj", "data", "prod", 1, default);

        Assert.Equal(["latest", "prod"], moved!.Aliases);
        Assert.Empty((await Artifacts.GetVersionAsync(e.Id, "proj", "data", "v0", default))!.Aliases);
        Assert.Null(await Artifacts.SetAliasAsync(e.Id, "proj", "data", "prod", 7, default));
    }

    [Fact]
    public async Task RunArtifacts_RecordWhatARunUsedAndProduced_OnlyForItsEntity()
    {
        var e = await NewEntityAsync("e");
        var other = await NewEntityAsync("other");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "r1"), default);
        await CommitAsync(e.Id, "input", Blob("in", 1));
        var file = Blob("out", 1);
        await Artifacts.AddBlobAsync(e.Id, file.Sha256, file.Size, T0, default);

        await Artifacts.CommitVersionAsync(e.Id, Version("output", [file]) with { RunId = "r1" }, default);
        var used = await Artifacts.RecordUseAsync(e.Id, "r1", "proj", "input", "latest", T0, default);

        Assert.Equal("input", used!.Name);
        var artifacts = (await Artifacts.ListRunArtifactsAsync(e.Id, "r1", default))!;
        Assert.Equal(["input"], artifacts.Used.Select(v => v.Name));
        Assert.Equal(["output"], artifacts.Produced.Select(v => v.Name));
        Assert.Equal("r1", artifacts.Produced[0].ProducedBy);
        Assert.Null(await Artifacts.ListRunArtifactsAsync(other.Id, "r1", default));
        Assert.Null(await Artifacts.RecordUseAsync(other.Id, "r1", "proj", "input", "latest", T0, default));
        await Assert.ThrowsAsync<StoreValidationException>(() => Artifacts.CommitVersionAsync(other.Id, Version("x", [file]) with { RunId = "r1" }, default));
    }

    [Fact]
    public async Task ListCollections_FiltersByProjectAndType()
    {
        var e = await NewEntityAsync("e");
        await CommitAsync(e.Id, "data", Blob("a", 1));
        await CommitAsync(e.Id, "data", Blob("b", 1));
        await CommitAsync(e.Id, "weights", Blob("c", 1), type: "model");

        var all = await Artifacts.ListCollectionsAsync(e.Id, null, null, default);
        var models = await Artifacts.ListCollectionsAsync(e.Id, "proj", "model", default);

        Assert.Equal([("data", 2, (int?)1), ("weights", 1, (int?)0)], all.Select(c => (c.Name, c.VersionCount, c.Latest)));
        Assert.Equal(["weights"], models.Select(c => c.Name));
        Assert.Empty(await Artifacts.ListCollectionsAsync(e.Id, "elsewhere", null, default));
    }

    private async Task<ArtifactCommit> CommitAsync(long entityId, string name, ManifestEntry file, string type = "dataset", string[]? aliases = null)
    {
        await Artifacts.AddBlobAsync(entityId, file.Sha256, file.Size, T0, default);
        return await Artifacts.CommitVersionAsync(entityId, Version(name, [file], aliases ?? []) with { Type = type }, default);
    }

    private static NewArtifactVersion Version(string name, ManifestEntry[] files, string[]? aliases = null) =>
        new("proj", name, "dataset", Manifests.Digest(files), files, aliases ?? [], "{}", null, T0);

    /// <summary>A manifest entry whose digest is derived from its path, standing in for real content.</summary>
    private static ManifestEntry Blob(string path, long size) =>
        new(path, size, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(path))));

    private async Task<EntityRecord> NewEntityAsync(string name) =>
        await Identities.CreateEntityAsync(name, admin: false, ApiKeys.Create("default", T0).Key, default);

    private static RunRecord NewRun(string entity, string id) => new(
        id, entity, "proj", "name-" + id, RunStates.Running, JsonObjects.Empty, JsonObjects.Empty, null, null, null, null, null,
        T0, T0, null, T0, false, null, 0);

    private static StoredHistoryRow[] Rows(params long[] steps) =>
        [.. steps.Select(s => new StoredHistoryRow(s, 1000 + s, $$"""{"loss":{{s}}}"""))];

    private static StoredLogLine[] Lines(long first, params string[] texts) =>
        [.. texts.Select((t, i) => new StoredLogLine(first + i, "stdout", t, 1000))];
}
