using Liftoff.Contracts;
using Liftoff.Core.Artifacts;
using Liftoff.Server.Storage;
using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>What the store keeps a run's key to, and the owner pointing 'latest' back.</summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task SetAlias_Latest_PinsAnEarlierVersionUntilTheNextNewVersion()
    {
        var e = await NewEntityAsync("e");
        await CommitAsync(e.Id, "train", Blob("j0", 1), type: "job");
        await CommitAsync(e.Id, "train", Blob("j1", 2), type: "job");

        var pinned = await Artifacts.SetAliasAsync(e.Id, "proj", "train", ArtifactRefs.Latest, 0, default);

        Assert.Equal(["latest"], pinned!.Aliases);
        Assert.Equal(0, (await Artifacts.GetVersionAsync(e.Id, "proj", "train", "latest", default))!.Version);
        Assert.Equal(0, (await Artifacts.ListCollectionsAsync(e.Id, "proj", "job", default)).Single().Latest);
        Assert.Equal([[], ["latest"]], (await Artifacts.ListVersionsAsync(e.Id, "proj", "train", default))!.Select(v => v.Aliases.ToArray()));

        var again = await CommitAsync(e.Id, "train", Blob("j1", 2), type: "job");
        Assert.False(again.Created);
        Assert.Equal(0, (await Artifacts.GetVersionAsync(e.Id, "proj", "train", "latest", default))!.Version);

        await CommitAsync(e.Id, "train", Blob("j2", 3), type: "job");
        Assert.Equal(2, (await Artifacts.GetVersionAsync(e.Id, "proj", "train", "latest", default))!.Version);
        Assert.Empty((await Artifacts.GetVersionAsync(e.Id, "proj", "train", "v0", default))!.Aliases);
    }

    [Fact]
    public async Task CommitVersion_OwnVersionsOnly_RefusesAliasesOnAnotherVersionOrTakenFromOne_AndWritesNothing()
    {
        var e = await NewEntityAsync("e");
        Assert.True(await Runs.TryCreateRunAsync(e.Id, NewRun("e", "launched"), default));
        var owners = Blob("owners", 1);
        await CommitAsync(e.Id, "model", owners, aliases: ["prod"]);
        var mine = Blob("mine", 2);
        await Artifacts.AddBlobAsync(e.Id, mine.Sha256, mine.Size, T0, default);
        NewArtifactVersion ByRun(ManifestEntry file, string[] aliases) => Version("model", [file], aliases) with { RunId = "launched", AliasOwnVersionOnly = true };

        await Assert.ThrowsAsync<ForbiddenException>(() => Artifacts.CommitVersionAsync(e.Id, ByRun(owners, ["staging"]), default));
        await Assert.ThrowsAsync<ForbiddenException>(() => Artifacts.CommitVersionAsync(e.Id, ByRun(mine, ["prod"]), default));

        var versions = (await Artifacts.ListVersionsAsync(e.Id, "proj", "model", default))!;
        Assert.Equal([0], versions.Select(v => v.Version));
        Assert.Equal(["latest", "prod"], versions[0].Aliases);
        Assert.Empty((await Artifacts.ListRunArtifactsAsync(e.Id, "launched", default))!.Produced);

        var made = await Artifacts.CommitVersionAsync(e.Id, ByRun(mine, ["candidate"]), default);
        var remade = await Artifacts.CommitVersionAsync(e.Id, ByRun(mine, ["candidate", "best"]), default);
        Assert.True(made.Created);
        Assert.Equal("launched", remade.Version.ProducedBy);
        Assert.Equal(["best", "candidate", "latest"], remade.Version.Aliases.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RunReferencesBlob_OnlyForVersionsTheRunUsedOrCreated()
    {
        var e = await NewEntityAsync("e");
        Assert.True(await Runs.TryCreateRunAsync(e.Id, NewRun("e", "launched"), default));
        var used = Blob("used", 1);
        var created = Blob("created", 2);
        var copied = Blob("copied", 3);
        var other = Blob("other", 4);
        await CommitAsync(e.Id, "inputs", used);
        await CommitAsync(e.Id, "theirs", copied);
        await CommitAsync(e.Id, "unrelated", other);
        await Artifacts.AddBlobAsync(e.Id, created.Sha256, created.Size, T0, default);
        await Artifacts.RecordUseAsync(e.Id, "launched", "proj", "inputs", "latest", T0, default);
        await Artifacts.CommitVersionAsync(e.Id, Version("outputs", [created]) with { RunId = "launched" }, default);
        await Artifacts.CommitVersionAsync(e.Id, Version("theirs", [copied]) with { RunId = "launched" }, default);

        Assert.True(await Artifacts.RunReferencesBlobAsync(e.Id, "launched", used.Sha256, default));
        Assert.True(await Artifacts.RunReferencesBlobAsync(e.Id, "launched", created.Sha256, default));
        Assert.False(await Artifacts.RunReferencesBlobAsync(e.Id, "launched", copied.Sha256, default));
        Assert.False(await Artifacts.RunReferencesBlobAsync(e.Id, "launched", other.Sha256, default));
        Assert.False(await Artifacts.RunReferencesBlobAsync(e.Id, "nobody", used.Sha256, default));
    }
}
