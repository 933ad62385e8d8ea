using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Server.Hosting;
using Liftoff.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary><c>liftoff admin backup</c>, <c>restore</c> and <c>usage</c>, through the real program against real servers.</summary>
public sealed class BackupTests
{
    private const string Project = "backed";

    [Fact]
    public async Task Backup_UnderLoad_RestoresEveryRunItemArtifactAndConsoleLineAcknowledgedBeforeItBegan()
    {
        using var home = new TempDirectory();
        var data = Path.Combine(home.Path, "data");
        var backup = Path.Combine(home.Path, "backup");
        var restoredData = Path.Combine(home.Path, "restored");
        await using var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false));
        var key = server.InitialAdminKey!;
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, key));

        var files = new Dictionary<string, byte[]>();
        var dataset = Directory.CreateDirectory(Path.Combine(home.Path, "dataset")).FullName;
        for (var i = 0; i < 5; i++)
        {
            files[$"part-{i}.bin"] = RandomNumberGenerator.GetBytes(100_000 + i);
            await File.WriteAllBytesAsync(Path.Combine(dataset, $"part-{i}.bin"), files[$"part-{i}.bin"]);
        }

        var artifact = await client.UploadArtifactAsync(dataset, Project, "dataset", new ArtifactUploadOptions("dataset"));

        var code = Directory.CreateDirectory(Path.Combine(home.Path, "code")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "train.py"), """
            import sys, time
            import liftoff
            liftoff.init()
            seconds = float(sys.argv[1])
            for i in range(5):
                print(f"epoch {i} of a {seconds}s job", flush=True)
            time.sleep(seconds)
            liftoff.finish()
            """);
        var codeVersion = await client.UploadArtifactAsync(code, Project, "train-code", new ArtifactUploadOptions("code"));
        foreach (var (job, seconds) in new[] { ("quick", "0"), ("slow", "600") })
        {
            await client.CreateJobAsync(new CreateJobRequest(Project, job, new JobDefinition(JobSourceTypes.Artifact,
                JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["artifact"] = $"{codeVersion.Name}:{codeVersion.Version}" }), ["python", "train.py", seconds])));
        }

        await client.CreateQueueAsync(new CreateQueueRequest("train", Resources.LocalProcess));
        using var agent = AgentProcess.Start(server.BaseUrl, key, "--queue", "train", "--max-jobs", "2", "--work-dir", Path.Combine(home.Path, "work"));
        var quick = await client.EnqueueAsync("train", new EnqueueRequest("quick", Project));
        var slow = await client.EnqueueAsync("train", new EnqueueRequest("slow", Project));
        var quickDone = await Poll.UntilAsync(() => client.GetItemAsync(quick.Id), i => i.State is ItemStates.Finished or ItemStates.Failed, TimeSpan.FromMinutes(3), $"the quick item to end; agent:\n{agent.Output}");
        Assert.True(quickDone.State == ItemStates.Finished, $"{quickDone.Error}; agent:\n{agent.Output}");
        var quickConsole = await Poll.UntilAsync(() => ReadLogsAsync(client, quickDone.RunId!), l => l.Any(t => t.StartsWith("epoch 4", StringComparison.Ordinal)), TimeSpan.FromMinutes(1), "the quick item's console");
        await Poll.UntilAsync(() => client.GetItemAsync(slow.Id), i => i.State == ItemStates.Running, TimeSpan.FromMinutes(3), $"the slow item to run; agent:\n{agent.Output}");

        // Writers log history and console without pause; what each had acknowledged when the backup began must come back.
        var acknowledged = new ConcurrentDictionary<string, ConcurrentBag<long>>();
        using var stopLoad = new CancellationTokenSource();
        var load = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                var run = await client.InitRunAsync(new InitRunRequest(Project, Name: $"writer-{w}"));
                var steps = acknowledged.GetOrAdd(run.Id, _ => []);
                for (long step = 0; step < 20 && !stopLoad.IsCancellationRequested; step++)
                {
                    await client.AppendHistoryAsync(run.Id, [new HistoryRow(step, JsonSerializer.SerializeToElement(new Dictionary<string, double> { ["loss"] = 1.0 / (step + 1) }))]);
                    await client.AppendLogsAsync(run.Id, step, [new LogLine("stdout", $"step {step} of {run.Id}")]);
                    steps.Add(step);
                }
            }
        })).ToList();
        var uploaded = new ConcurrentQueue<(string Version, byte[] Content)>();
        load.Add(Task.Run(async () =>
        {
            for (var n = 0; !stopLoad.IsCancellationRequested; n++)
            {
                var folder = Directory.CreateDirectory(Path.Combine(home.Path, $"upload-{n}")).FullName;
                var content = RandomNumberGenerator.GetBytes(2048);
                await File.WriteAllBytesAsync(Path.Combine(folder, "checkpoint.bin"), content);
                uploaded.Enqueue(((await client.UploadArtifactAsync(folder, Project, "checkpoint", new ArtifactUploadOptions("model"))).Version, content));
            }
        }));
        await Poll.UntilAsync(() => Task.FromResult(acknowledged.Values.Sum(s => s.Count)), n => n >= 30, TimeSpan.FromMinutes(1), "the writers to get going");
        await Poll.UntilAsync(() => Task.FromResult(uploaded.Count), n => n >= 2, TimeSpan.FromMinutes(1), "the uploads to get going");

        var before = acknowledged.ToDictionary(a => a.Key, a => a.Value.ToArray());
        var uploadedBefore = uploaded.ToArray();
        var result = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "backup", "--to", backup, "--json"], Environment(home, server.BaseUrl, key));
        var duringBackup = await client.GetItemAsync(slow.Id);
        await stopLoad.CancelAsync();
        await Task.WhenAll(load);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(ItemStates.Running, duringBackup.State);
        Assert.Contains("secret key ring", result.Stderr, StringComparison.Ordinal);
        var manifest = JsonSerializer.Deserialize(result.Stdout, LiftoffJsonContext.Default.BackupManifest)!;
        Assert.Equal("sqlite", manifest.Database);
        Assert.True(manifest.BlobsIncluded);
        Assert.All(files.Values, content => Assert.Contains(manifest.Blobs, b => b.Sha256 == Convert.ToHexStringLower(SHA256.HashData(content))));

        var restore = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "restore", "--from", backup, "--data-dir", restoredData], Environment(home, server.BaseUrl, key));
        Assert.True(restore.ExitCode == 0, restore.ToString());

        await using var restored = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = restoredData, Port = 0 }, logging => logging.AddFilter(_ => false));
        Assert.Null(restored.InitialAdminKey);
        using var after = new LiftoffClient(new LiftoffSettings(restored.BaseUrl, key));
        foreach (var (runId, steps) in before)
        {
            var history = new List<HistoryRow>();
            await foreach (var row in after.ReadHistoryAsync(runId))
            {
                history.Add(row);
            }

            var console = await ReadLogsAsync(after, runId);
            Assert.All(steps, step => Assert.Contains(history, h => h.Step == step));
            Assert.All(steps, step => Assert.Contains($"step {step} of {runId}", console));
        }

        Assert.Equal(ItemStates.Finished, (await after.GetItemAsync(quick.Id)).State);
        Assert.Equal(quickDone.RunId, (await after.GetItemAsync(quick.Id)).RunId);
        Assert.Equal(slow.Id, (await after.GetItemAsync(slow.Id)).Id);
        Assert.Equal(quickConsole, await ReadLogsAsync(after, quickDone.RunId!));
        var restoredArtifact = await after.GetArtifactVersionAsync(Project, "dataset", artifact.Version);
        Assert.Equal(artifact.Digest, restoredArtifact.Digest);
        foreach (var (version, content) in uploadedBefore)
        {
            Assert.Equal(version, (await after.GetArtifactVersionAsync(Project, "checkpoint", version)).Version);
            await using var blob = await after.OpenBlobAsync(Convert.ToHexStringLower(SHA256.HashData(content)));
            using var copy = new MemoryStream();
            await blob.CopyToAsync(copy);
            Assert.Equal(content, copy.ToArray());
        }

        foreach (var content in files.Values)
        {
            await using var blob = await after.OpenBlobAsync(Convert.ToHexStringLower(SHA256.HashData(content)));
            using var copy = new MemoryStream();
            await blob.CopyToAsync(copy);
            Assert.Equal(content, copy.ToArray());
        }
    }

    [Fact]
    public async Task Restore_IntoANonEmptyDirectoryOrFromANewerSchemaOrWithADamagedBlob_IsRefusedAndWritesNothing()
    {
        using var home = new TempDirectory();
        var backup = Path.Combine(home.Path, "backup");
        string key;
        Uri url;
        await using (var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = Path.Combine(home.Path, "data"), Port = 0 }, logging => logging.AddFilter(_ => false)))
        {
            key = server.InitialAdminKey!;
            url = server.BaseUrl;
            using var client = new LiftoffClient(new LiftoffSettings(url, key));
            var dataset = Directory.CreateDirectory(Path.Combine(home.Path, "dataset")).FullName;
            await File.WriteAllTextAsync(Path.Combine(dataset, "a.txt"), "the only file");
            await client.UploadArtifactAsync(dataset, Project, "dataset", new ArtifactUploadOptions("dataset"));
            var taken = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "backup", "--to", backup], Environment(home, url, key));
            Assert.True(taken.ExitCode == 0, taken.ToString());
            var again = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "backup", "--to", backup], Environment(home, url, key));
            Assert.Equal(2, again.ExitCode);
            Assert.Contains("is not empty", again.Stderr, StringComparison.Ordinal);
        }

        var occupied = Directory.CreateDirectory(Path.Combine(home.Path, "occupied")).FullName;
        await File.WriteAllTextAsync(Path.Combine(occupied, "keep.txt"), "mine");
        var intoOccupied = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "restore", "--from", backup, "--data-dir", occupied], Environment(home, url, key));
        Assert.Equal(1, intoOccupied.ExitCode);
        Assert.Contains("is not empty", intoOccupied.Stderr, StringComparison.Ordinal);
        Assert.Equal(["keep.txt"], Directory.GetFileSystemEntries(occupied).Select(Path.GetFileName));

        var manifestPath = Path.Combine(backup, "manifest.json");
        var original = await File.ReadAllTextAsync(manifestPath);
        var newer = JsonNode.Parse(original)!;
        newer["schema_version"] = 999_999;
        await File.WriteAllTextAsync(manifestPath, newer.ToJsonString());
        var fromNewer = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "restore", "--from", backup, "--data-dir", Path.Combine(home.Path, "newer")], Environment(home, url, key));
        Assert.Equal(1, fromNewer.ExitCode);
        Assert.Contains("schema version 999999, newer than this liftoff knows", fromNewer.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(home.Path, "newer")));

        await File.WriteAllTextAsync(manifestPath, original);
        var blob = Directory.GetFiles(Path.Combine(backup, "blobs"), "*", SearchOption.AllDirectories).Single();
        await File.WriteAllTextAsync(blob, "the only fil3");
        var damaged = Path.Combine(home.Path, "damaged");
        var fromDamaged = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "restore", "--from", backup, "--data-dir", damaged], Environment(home, url, key));
        Assert.Equal(1, fromDamaged.ExitCode);
        Assert.Contains($"blob {Path.GetFileName(blob)} in the backup is damaged", fromDamaged.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(damaged));
    }

    [Fact]
    public async Task Usage_CountsHistoryConsoleAndArtifactBytesByProject_ForTheServerAdminOnly()
    {
        using var home = new TempDirectory();
        await using var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = Path.Combine(home.Path, "data"), Port = 0 }, logging => logging.AddFilter(_ => false));
        var key = server.InitialAdminKey!;
        using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, key));
        var run = await client.InitRunAsync(new InitRunRequest("metered", Name: "r"));
        await client.AppendHistoryAsync(run.Id, [new HistoryRow(0, JsonSerializer.SerializeToElement(new Dictionary<string, int> { ["x"] = 1 }))]);
        await client.AppendLogsAsync(run.Id, 0, [new LogLine("stdout", "twelve bytes"), new LogLine("stderr", "héllo")]);
        var dataset = Directory.CreateDirectory(Path.Combine(home.Path, "dataset")).FullName;
        await File.WriteAllBytesAsync(Path.Combine(dataset, "a.bin"), new byte[1000]);
        await File.WriteAllBytesAsync(Path.Combine(dataset, "b.bin"), new byte[1000]);
        await File.WriteAllBytesAsync(Path.Combine(dataset, "c.bin"), new byte[24]);
        await client.UploadArtifactAsync(dataset, "metered", "zeros", new ArtifactUploadOptions("dataset"));
        await client.InitRunAsync(new InitRunRequest("empty"));
        var user = await client.CreateUserAsync("someone");

        var json = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "usage", "--json"], Environment(home, server.BaseUrl, key));
        var table = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "usage"], Environment(home, server.BaseUrl, key));
        var refused = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "usage"], Environment(home, server.BaseUrl, user.Key.Key));

        Assert.True(json.ExitCode == 0, json.ToString());
        var usage = JsonSerializer.Deserialize(json.Stdout, LiftoffJsonContext.Default.UsageReport)!;
        var metered = Assert.Single(usage.Projects, p => p.Project == "metered");
        Assert.Equal("admin", metered.Entity);
        Assert.True(metered.HistoryBytes >= """{"x":1}""".Length, $"{metered.HistoryBytes} history bytes");
        Assert.Equal("twelve bytes".Length + "héllo"u8.Length, metered.ConsoleBytes);
        Assert.Equal(1024, metered.ArtifactBytes);
        Assert.Equal(new ProjectUsage("admin", "empty", 0, 0, 0), Assert.Single(usage.Projects, p => p.Project == "empty"));
        Assert.Equal(1024, usage.Totals.ArtifactBytes);
        Assert.True(usage.Totals.BlobBytes >= 1024, $"{usage.Totals.BlobBytes} blob bytes");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("admin/metered", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("1.0 KiB", table.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("only the server admin may read the server's usage", refused.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backup_OnPostgres_DumpsThroughPgDumpAndRestoresIntoTheEmptiedSchema()
    {
        using var home = new TempDirectory();
        await using var schema = await PostgresSchema.CreateAsync();
        var backup = Path.Combine(home.Path, "backup");
        string key, runId;
        byte[] content = RandomNumberGenerator.GetBytes(4096);
        await using (var server = await LiftoffServer.StartAsync(
            new ServerOptions { DataDirectory = Path.Combine(home.Path, "data"), Database = schema.ConnectionString, Port = 0 }, logging => logging.AddFilter(_ => false)))
        {
            key = server.InitialAdminKey!;
            using var client = new LiftoffClient(new LiftoffSettings(server.BaseUrl, key));
            runId = (await client.InitRunAsync(new InitRunRequest(Project, Name: "on-postgres"))).Id;
            await client.AppendLogsAsync(runId, 0, [new LogLine("stdout", "kept by pg_dump")]);
            var dataset = Directory.CreateDirectory(Path.Combine(home.Path, "dataset")).FullName;
            await File.WriteAllBytesAsync(Path.Combine(dataset, "weights.bin"), content);
            await client.UploadArtifactAsync(dataset, Project, "weights", new ArtifactUploadOptions("model"));

            var taken = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "backup", "--to", backup, "--json"], Environment(home, server.BaseUrl, key));
            Assert.True(taken.ExitCode == 0, taken.ToString());
            var manifest = JsonSerializer.Deserialize(taken.Stdout, LiftoffJsonContext.Default.BackupManifest)!;
            Assert.Equal("postgres", manifest.Database);
            Assert.Equal(schema.Name, manifest.PostgresSchema);
            Assert.True(File.Exists(Path.Combine(backup, "database.pgdump")));
        }

        var intoOccupied = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "restore", "--from", backup, "--data-dir", Path.Combine(home.Path, "occupied"), "--database", schema.ConnectionString],
            new Cli(home.Path).Environment());
        Assert.Equal(1, intoOccupied.ExitCode);
        Assert.Contains("already holds tables", intoOccupied.Stderr, StringComparison.Ordinal);

        await using (var connection = new NpgsqlConnection(schema.ConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA \"{schema.Name}\" CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }

        var restoredData = Path.Combine(home.Path, "restored");
        var restore = await ProcessRunner.RunAsync(Cli.Executable, ["admin", "restore", "--from", backup, "--data-dir", restoredData, "--database", schema.ConnectionString],
            new Cli(home.Path).Environment());
        Assert.True(restore.ExitCode == 0, restore.ToString());

        await using var restored = await LiftoffServer.StartAsync(
            new ServerOptions { DataDirectory = restoredData, Database = schema.ConnectionString, Port = 0 }, logging => logging.AddFilter(_ => false));
        using var after = new LiftoffClient(new LiftoffSettings(restored.BaseUrl, key));
        Assert.Equal("on-postgres", (await after.GetRunAsync(runId)).Name);
        Assert.Equal(["kept by pg_dump"], await ReadLogsAsync(after, runId));
        await using var blob = await after.OpenBlobAsync(Convert.ToHexStringLower(SHA256.HashData(content)));
        using var copy = new MemoryStream();
        await blob.CopyToAsync(copy);
        Assert.Equal(content, copy.ToArray());
    }

    private static async Task<List<string>> ReadLogsAsync(LiftoffClient client, string runId)
    {
        var lines = new List<string>();
        await foreach (var line in client.ReadLogsAsync(runId))
        {
            lines.Add(line.Text);
        }

        return lines;
    }

    private static Dictionary<string, string?> Environment(TempDirectory home, Uri url, string key) =>
        new Cli(home.Path).Environment(("LIFTOFF_BASE_URL", url.ToString()), ("LIFTOFF_API_KEY", key));
}
