using Liftoff.Contracts;
using Liftoff.Core.Runs;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>Console archives: sealing an ended run's lines, recording their blob and deleting the rows.</summary>
public abstract partial class StoreContract
{
    private static readonly string BlobA = new('a', 64);
    private static readonly string BlobB = new('b', 64);

    [Fact]
    public async Task CompleteConsoleArchive_AfterSeal_RecordsTheBlobAndDeletesOnlyTheSealedRows()
    {
        var e = await NewEntityAsync("e");
        await CreateEndedRunAsync(e.Id, "r", T0, "zero", "one", "two");

        var seal = await Runs.SealConsoleAsync("r", T0.AddHours(1), T0.AddHours(2), default);
        await Runs.AppendLogsAsync(e.Id, "r", 3, Lines(3, "three"), r => r, default);
        var completed = await Runs.CompleteConsoleArchiveAsync("r", 3, BlobA, 123, T0.AddHours(2), default);

        Assert.Equal(new ConsoleArchive(3, null, null), seal);
        Assert.True(completed);
        Assert.Equal(new ConsoleArchive(3, BlobA, 123), await Runs.GetConsoleArchiveAsync("r", default));
        Assert.Equal([3L], (await Runs.ReadLogsAsync("r", -1, 100, default)).Select(l => l.Line));
        Assert.Equal(4, (await Runs.GetRunAsync(e.Id, "r", default))!.LogLines);
    }

    [Fact]
    public async Task CompleteConsoleArchive_TwoSweepersAtOnce_CompletesOnceWithTheFirstBlob()
    {
        var e = await NewEntityAsync("e");
        await CreateEndedRunAsync(e.Id, "r", T0, "zero", "one");
        var seals = await Task.WhenAll(
            Runs.SealConsoleAsync("r", T0.AddHours(1), T0.AddHours(2), default),
            Runs.SealConsoleAsync("r", T0.AddHours(1), T0.AddHours(2), default));

        var completions = await Task.WhenAll(
            Runs.CompleteConsoleArchiveAsync("r", 2, BlobA, 10, T0.AddHours(2), default),
            Runs.CompleteConsoleArchiveAsync("r", 2, BlobA, 10, T0.AddHours(2), default));
        var late = await Runs.CompleteConsoleArchiveAsync("r", 2, BlobB, 20, T0.AddHours(3), default);

        Assert.All(seals, s => Assert.Equal(new ConsoleArchive(2, null, null), s));
        Assert.Single(completions, c => c);
        Assert.False(late);
        Assert.Equal(new ConsoleArchive(2, BlobA, 10), await Runs.GetConsoleArchiveAsync("r", default));
        Assert.Null(await Runs.SealConsoleAsync("r", T0.AddHours(1), T0.AddHours(4), default));
        Assert.Empty(await Runs.ReadLogsAsync("r", -1, 100, default));
    }

    [Fact]
    public async Task CompleteConsoleArchive_ForOtherLinesThanTheSeal_ChangesNothing()
    {
        var e = await NewEntityAsync("e");
        await CreateEndedRunAsync(e.Id, "r", T0, "zero", "one");
        await Runs.SealConsoleAsync("r", T0.AddHours(1), T0.AddHours(2), default);

        Assert.False(await Runs.CompleteConsoleArchiveAsync("r", 1, BlobA, 10, T0.AddHours(2), default));
        Assert.False(await Runs.CompleteConsoleArchiveAsync("unknown", 2, BlobA, 10, T0.AddHours(2), default));
        Assert.Equal(new ConsoleArchive(2, null, null), await Runs.GetConsoleArchiveAsync("r", default));
        Assert.Equal(2, (await Runs.ReadLogsAsync("r", -1, 100, default)).Count);
    }

    [Fact]
    public async Task SealConsole_RunRunningOrEndedAfterTheCutoff_SealsNothing()
    {
        var e = await NewEntityAsync("e");
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "running"), default);
        await Runs.AppendLogsAsync(e.Id, "running", 0, Lines(0, "x"), r => r, default);
        await CreateEndedRunAsync(e.Id, "recent", T0.AddHours(2), "x");
        await CreateEndedRunAsync(e.Id, "silent", T0);

        Assert.Null(await Runs.SealConsoleAsync("running", T0.AddHours(1), T0.AddHours(3), default));
        Assert.Null(await Runs.SealConsoleAsync("recent", T0.AddHours(1), T0.AddHours(3), default));
        Assert.Null(await Runs.SealConsoleAsync("silent", T0.AddHours(1), T0.AddHours(3), default));
        Assert.Null(await Runs.SealConsoleAsync("unknown", T0.AddHours(1), T0.AddHours(3), default));
        Assert.Null(await Runs.GetConsoleArchiveAsync("running", default));
        Assert.Null(await Runs.GetConsoleArchiveAsync("recent", default));
        await Runs.AppendLogsAsync(e.Id, "running", 0, Lines(0, "x"), r => r, default);
    }

    [Fact]
    public async Task ConsoleWrites_BelowTheSealedLines_AreRefusedNamingTheRunAndWriteNothing()
    {
        var e = await NewEntityAsync("e");
        await CreateEndedRunAsync(e.Id, "r", T0, "zero", "one", "two");
        await Runs.SealConsoleAsync("r", T0.AddHours(1), T0.AddHours(2), default);

        var append = await Assert.ThrowsAsync<RunConflictException>(() => Runs.AppendLogsAsync(e.Id, "r", 2, Lines(2, "two", "three"), r => r, default));
        var rewrite = await Assert.ThrowsAsync<RunConflictException>(() => Runs.WriteLogsAsync(e.Id, "r", [.. Lines(4, "four"), .. Lines(1, "ONE")], r => r, default));
        await Runs.CompleteConsoleArchiveAsync("r", 3, BlobA, 10, T0.AddHours(2), default);
        var afterArchive = await Assert.ThrowsAsync<RunConflictException>(() => Runs.WriteLogsAsync(e.Id, "r", Lines(0, "ZERO"), r => r, default));
        var appended = await Runs.AppendLogsAsync(e.Id, "r", 3, Lines(3, "three"), r => r, default);
        var rewritten = await Runs.WriteLogsAsync(e.Id, "r", Lines(3, "THREE", "four"), r => r, default);

        Assert.Contains("run r", append.Message, StringComparison.Ordinal);
        Assert.Contains("archived", append.Message, StringComparison.Ordinal);
        Assert.Contains("line 2", append.Message, StringComparison.Ordinal);
        Assert.Contains("line 1", rewrite.Message, StringComparison.Ordinal);
        Assert.Contains("line 3 or later", afterArchive.Message, StringComparison.Ordinal);
        Assert.Equal(4, appended!.LogLines);
        Assert.Equal(5, rewritten!.LogLines);
        Assert.Equal(["THREE", "four"], (await Runs.ReadLogsAsync("r", -1, 100, default)).Select(l => l.Text));
    }

    [Fact]
    public async Task SealConsole_WhileRewritesRace_LeavesTheSealedLinesAsTheyWereAtTheSeal()
    {
        var e = await NewEntityAsync("e");
        await CreateEndedRunAsync(e.Id, "r", T0, "start");

        var writes = Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            try
            {
                await Runs.WriteLogsAsync(e.Id, "r", Lines(0, $"v{i}"), r => r, default);
                return true;
            }
            catch (RunConflictException)
            {
                return false;
            }
        })).ToList();
        var seal = await Runs.SealConsoleAsync("r", T0.AddHours(1), T0.AddHours(2), default);
        var atSeal = Assert.Single(await Runs.ReadLogsAsync("r", -1, 100, default)).Text;
        var accepted = await Task.WhenAll(writes);

        Assert.NotNull(seal);
        Assert.Equal(atSeal, Assert.Single(await Runs.ReadLogsAsync("r", -1, 100, default)).Text);
        Assert.Equal(atSeal == "start", !accepted.Any(a => a));
    }

    [Fact]
    public async Task FindConsolesToArchive_OnlyEndedRunsPastTheCutoffOverTheThresholdNotYetArchived_InEndOrder()
    {
        var e = await NewEntityAsync("e");
        await CreateEndedRunAsync(e.Id, "big-late", T0.AddMinutes(20), "0123456789", "é");
        await CreateEndedRunAsync(e.Id, "big-early", T0.AddMinutes(10), "0123456789", "é");
        await CreateEndedRunAsync(e.Id, "small", T0.AddMinutes(10), "0123456789");
        await CreateEndedRunAsync(e.Id, "too-recent", T0.AddHours(2), "0123456789", "é");
        await CreateEndedRunAsync(e.Id, "archived", T0, "0123456789", "é");
        await Runs.SealConsoleAsync("archived", T0.AddHours(1), T0.AddHours(1), default);
        await Runs.CompleteConsoleArchiveAsync("archived", 2, BlobA, 10, T0.AddHours(1), default);
        await Runs.WriteLogsAsync(e.Id, "archived", Lines(2, "0123456789", "0123456789"), r => r, default);
        await Runs.TryCreateRunAsync(e.Id, NewRun("e", "running"), default);
        await Runs.AppendLogsAsync(e.Id, "running", 0, Lines(0, "0123456789", "0123456789"), r => r, default);

        var all = await Runs.FindConsolesToArchiveAsync(ConsoleToArchive.Start, T0.AddHours(1), 11, 10, default);
        var first = await Runs.FindConsolesToArchiveAsync(ConsoleToArchive.Start, T0.AddHours(1), 11, 1, default);
        var next = await Runs.FindConsolesToArchiveAsync(first[0], T0.AddHours(1), 11, 1, default);

        Assert.Equal([new ConsoleToArchive(T0.AddMinutes(10), "big-early"), new ConsoleToArchive(T0.AddMinutes(20), "big-late")], all);
        Assert.Equal(["big-early"], first.Select(r => r.RunId));
        Assert.Equal(["big-late"], next.Select(r => r.RunId));
    }

    /// <summary>A run that ended (finished) at <paramref name="endedAt"/> with these console lines.</summary>
    private async Task CreateEndedRunAsync(long entityId, string id, DateTimeOffset endedAt, params string[] lines)
    {
        await Runs.TryCreateRunAsync(entityId, NewRun("e", id), default);
        await Runs.AppendLogsAsync(entityId, id, 0, Lines(0, lines), r => r, default);
        await Runs.UpdateRunAsync(entityId, id, r => r with { State = RunStates.Finished, ExitCode = 0, EndedAt = endedAt }, default);
    }
}
