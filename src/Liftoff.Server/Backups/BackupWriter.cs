using System.Data;
using System.Diagnostics;
using System.Formats.Tar;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Server.Blobs;
using Liftoff.Server.Hosting;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Liftoff.Server.Backups;

/// <summary>
/// Takes a backup of the running server: a consistent snapshot of the store (SQLite's online backup API, or
/// <c>pg_dump</c> inside an exported PostgreSQL snapshot), the manifest of what that snapshot holds and references, then
/// the snapshot and the blob files as one tar stream. Blobs are content-addressed and never rewritten, so copying them
/// after the snapshot gives exactly the ones it references.
/// </summary>
internal sealed class BackupWriter(RelationalDatabase database, IBlobStore blobs, ServerOptions options, TimeProvider time)
{
    public const string ManifestFile = "manifest.json";
    public const string SqliteFile = "liftoff.db";
    public const string PostgresFile = "database.pgdump";
    public const int Format = 1;

    /// <summary>Where a blob lives in a backup, as in a filesystem blob store: <c>blobs/sha256/ab/abcdef…</c>.</summary>
    public static string BlobEntry(string digest) => $"blobs/sha256/{digest[..2]}/{digest}";

    /// <summary>
    /// Snapshots the store into a fresh folder of the data directory (deleted by <see cref="Snapshot.Dispose"/>).
    /// Throws <see cref="BackupException"/> when it cannot: no pg_dump, a blob the store references but the blob store lacks.
    /// </summary>
    public async Task<Snapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        var work = Path.Combine(options.DataDirectory, "backup-tmp", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var (file, schema, inventory) = database switch
            {
                SqliteDatabase sqlite => await SnapshotSqliteAsync(sqlite, work, cancellationToken),
                PostgresDatabase postgres => await SnapshotPostgresAsync(postgres, work, cancellationToken),
                _ => throw new BackupException($"no backup for {database.Name}"),
            };
            var local = blobs as FileSystemBlobStore;
            var notes = new List<string>
            {
                "The secret key ring (DATA/secret-keys, or --secret-keys) is not in the backup: copy it yourself and keep it apart from the backup, or the restored secrets cannot be decrypted.",
            };
            if (local is null)
            {
                notes.Add($"Blobs live in {BlobLocation.Parse(options.Blobs, options.DataDirectory)} and are not in this backup: keep the bucket (versioned, or copied with your S3 tool) and point the restored server at it; the manifest lists the {inventory.Blobs.Count} blobs it must hold.");
            }
            else if (inventory.Blobs.FirstOrDefault(b => local.FileOf(b.Sha256) is null) is { } missing)
            {
                throw new BackupException($"the store references blob {missing.Sha256}, which the blob store does not hold; the data directory is damaged");
            }

            var manifest = new BackupManifest(Format, inventory.SchemaVersion, time.GetUtcNow(), database is SqliteDatabase ? "sqlite" : "postgres",
                Path.GetFileName(file), schema, local is not null, $"{BlobLocation.Parse(options.Blobs, options.DataDirectory)}", inventory.Counts, inventory.Blobs, notes);
            return new Snapshot(work, file, manifest);
        }
        catch
        {
            Directory.Delete(work, recursive: true);
            throw;
        }
    }

    /// <summary>The manifest first (so a reader can check as it goes), then the database, then every blob.</summary>
    public async Task WriteAsync(Snapshot snapshot, Stream output, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        using (var manifest = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(snapshot.Manifest, LiftoffJsonContext.Default.BackupManifest)))
        {
            await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, ManifestFile) { DataStream = manifest }, cancellationToken);
        }

        await tar.WriteEntryAsync(snapshot.DatabaseFile, snapshot.Manifest.DatabaseFile, cancellationToken);
        if (blobs is FileSystemBlobStore local)
        {
            foreach (var blob in snapshot.Manifest.Blobs)
            {
                await tar.WriteEntryAsync(local.FileOf(blob.Sha256)!, BlobEntry(blob.Sha256), cancellationToken);
            }
        }
    }

    private static async Task<(string, string?, (int SchemaVersion, Dictionary<string, long> Counts, List<BackupBlob> Blobs))> SnapshotSqliteAsync(
        SqliteDatabase sqlite, string work, CancellationToken cancellationToken)
    {
        var file = Path.Combine(work, SqliteFile);
        await using (var source = await sqlite.OpenAsync(cancellationToken))
        await using (var target = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString()))
        {
            await target.OpenAsync(cancellationToken);
            // One backup step copies every page under one read transaction: one point in time, while the server's
            // writer carries on in WAL mode. The copy then leaves WAL mode so that it is a single self-contained file.
            await Task.Run(() => source.BackupDatabase(target), cancellationToken);
            await using var journal = target.CreateCommand();
            journal.CommandText = "PRAGMA journal_mode=DELETE";
            await journal.ExecuteNonQueryAsync(cancellationToken);
        }

        using var snapshot = new SqliteDatabase(file);
        var inventory = await snapshot.ReadAsync(session => RelationalStore.InventoryAsync(session, cancellationToken), cancellationToken);
        return (file, null, inventory);
    }

    /// <summary>
    /// pg_dump reads the snapshot of a repeatable-read transaction held open here, in which the inventory is read too:
    /// the dump and the manifest describe the same instant, whatever the replicas write meanwhile.
    /// </summary>
    private static async Task<(string, string?, (int SchemaVersion, Dictionary<string, long> Counts, List<BackupBlob> Blobs))> SnapshotPostgresAsync(
        PostgresDatabase postgres, string work, CancellationToken cancellationToken)
    {
        var pgDump = PostgresTools.Find("pg_dump") ?? throw new BackupException(
            "pg_dump is not on the server's PATH: install the PostgreSQL client tools (the server's major version or newer) where the server runs, or follow the manual route in docs/backup.md");
        var file = Path.Combine(work, PostgresFile);
        await using var connection = await postgres.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        string snapshotId, schema;
        await using (var export = new NpgsqlCommand("SELECT pg_export_snapshot(), current_schema()", connection, transaction))
        await using (var reader = await export.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            snapshotId = reader.GetString(0);
            schema = reader.GetString(1);
        }

        var inventory = await RelationalStore.InventoryAsync(new DbSession(postgres, connection, transaction), cancellationToken);
        var result = await PostgresTools.RunAsync(pgDump, postgres.ConnectionString,
            ["--format=custom", "--no-owner", "--no-privileges", $"--snapshot={snapshotId}", $"--schema=\"{schema}\"", $"--file={file}"], cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new BackupException($"pg_dump failed (exit code {result.ExitCode}): {result.Error}");
        }

        await transaction.CommitAsync(cancellationToken);
        return (file, schema, inventory);
    }

    /// <summary>A snapshot on disk and its manifest; disposing it deletes the folder.</summary>
    internal sealed class Snapshot(string directory, string databaseFile, BackupManifest manifest) : IDisposable
    {
        public string DatabaseFile { get; } = databaseFile;

        public BackupManifest Manifest { get; } = manifest;

        public void Dispose() => Directory.Delete(directory, recursive: true);
    }
}

/// <summary>A backup or restore that cannot be made, with the reason a person can act on.</summary>
public sealed class BackupException(string message) : Exception(message);

/// <summary>pg_dump and pg_restore, run with the connection's settings in libpq's environment variables (never the password on a command line).</summary>
internal static class PostgresTools
{
    public static string? Find(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string tool, string connectionString, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PGHOST"] = settings.Host;
        start.Environment["PGPORT"] = settings.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["PGDATABASE"] = settings.Database;
        start.Environment["PGUSER"] = settings.Username;
        start.Environment["PGPASSWORD"] = settings.Password;
        start.Environment["PGSSLMODE"] = settings.SslMode switch
        {
            SslMode.Disable => "disable",
            SslMode.Allow => "allow",
            SslMode.Require => "require",
            SslMode.VerifyCA => "verify-ca",
            SslMode.VerifyFull => "verify-full",
            _ => "prefer",
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await output, (await error).Trim());
    }
}
