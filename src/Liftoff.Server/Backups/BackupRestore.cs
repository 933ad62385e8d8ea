using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Server.Blobs;
using Liftoff.Server.Hosting;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Npgsql;

namespace Liftoff.Server.Backups;

/// <summary>
/// <c>liftoff admin restore</c>: a backup folder (what <c>liftoff admin backup</c> wrote) into a new data directory,
/// and on PostgreSQL into a database whose schema holds no tables yet. Everything is checked before the store is
/// written: the manifest's format and schema version, that the targets are empty, every blob's size and SHA-256, and
/// afterwards that the restored store holds the rows the manifest counted. A failure leaves the data directory empty.
/// </summary>
public static class BackupRestore
{
    public static async Task<BackupManifest> RestoreAsync(string from, string dataDirectory, string? database, CancellationToken cancellationToken)
    {
        var manifest = await ReadManifestAsync(from, cancellationToken);
        if (manifest.Format != BackupWriter.Format)
        {
            throw new BackupException($"the backup's format is {manifest.Format}; this liftoff reads format {BackupWriter.Format}");
        }

        if (manifest.SchemaVersion > Migrations.LatestVersion)
        {
            throw new BackupException($"the backup has schema version {manifest.SchemaVersion}, newer than this liftoff knows ({Migrations.LatestVersion}): restore it with a newer liftoff");
        }

        var location = DatabaseLocation.Parse(database, dataDirectory);
        if ((manifest.Database == "postgres") != location is PostgresDatabaseLocation)
        {
            throw new BackupException(manifest.Database == "postgres"
                ? "the backup is of a PostgreSQL store: name the database to restore into with --database postgres://…"
                : "the backup is of a SQLite store: restore it without --database (into the data directory), then move it with liftoff server migrate-data if you want PostgreSQL");
        }

        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new BackupException($"the data directory {dataDirectory} is not empty: restore into a new one");
        }

        Directory.CreateDirectory(dataDirectory);
        try
        {
            if (manifest.BlobsIncluded)
            {
                await RestoreBlobsAsync(from, manifest, Path.Combine(dataDirectory, "blobs"), cancellationToken);
            }

            var restored = location switch
            {
                PostgresDatabaseLocation postgres => await RestorePostgresAsync(from, manifest, postgres, cancellationToken),
                _ => await RestoreSqliteAsync(from, manifest, ((SqliteDatabaseLocation)location).Path, cancellationToken),
            };
            var wrong = manifest.Counts.Where(c => restored.GetValueOrDefault(c.Key) != c.Value).Select(c => $"{c.Key} {restored.GetValueOrDefault(c.Key)} rows, not {c.Value}").ToList();
            if (wrong.Count > 0)
            {
                throw new BackupException($"the restored store does not hold what the backup counted: {string.Join(", ", wrong)}");
            }
        }
        catch
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(dataDirectory))
            {
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }

            throw;
        }

        return manifest;
    }

    private static async Task<BackupManifest> ReadManifestAsync(string from, CancellationToken cancellationToken)
    {
        var path = Path.Combine(from, BackupWriter.ManifestFile);
        if (!File.Exists(path))
        {
            throw new BackupException($"{from} holds no {BackupWriter.ManifestFile}: it is not a folder liftoff admin backup wrote");
        }

        try
        {
            await using var file = File.OpenRead(path);
            return await JsonSerializer.DeserializeAsync(file, LiftoffJsonContext.Default.BackupManifest, cancellationToken)
                ?? throw new BackupException($"{path} is empty");
        }
        catch (JsonException ex)
        {
            throw new BackupException($"{path} is not a backup manifest: {ex.Message}");
        }
    }

    /// <summary>Each blob goes through the blob store's own write, which checks its size and SHA-256 before keeping it.</summary>
    private static async Task RestoreBlobsAsync(string from, BackupManifest manifest, string target, CancellationToken cancellationToken)
    {
        var store = new FileSystemBlobStore(target);
        foreach (var blob in manifest.Blobs)
        {
            if (blob.Sha256.Length != 64 || !blob.Sha256.All(char.IsAsciiHexDigitLower))
            {
                throw new BackupException($"the manifest lists '{blob.Sha256}', which is not a SHA-256");
            }

            var path = Path.Combine(from, BackupWriter.BlobEntry(blob.Sha256));
            if (!File.Exists(path))
            {
                throw new BackupException($"blob {blob.Sha256} is in the manifest but not in the backup ({path})");
            }

            await using var content = File.OpenRead(path);
            try
            {
                await store.WriteAsync(blob.Sha256, blob.Size, content, cancellationToken);
            }
            catch (BlobMismatchException ex)
            {
                throw new BackupException($"blob {blob.Sha256} in the backup is damaged: {ex.Message}");
            }
        }
    }

    private static async Task<Dictionary<string, long>> RestoreSqliteAsync(string from, BackupManifest manifest, string target, CancellationToken cancellationToken)
    {
        var source = Path.Combine(from, manifest.DatabaseFile);
        if (manifest.DatabaseFile != BackupWriter.SqliteFile || !File.Exists(source))
        {
            throw new BackupException($"the backup holds no {BackupWriter.SqliteFile}");
        }

        if (File.Exists(target))
        {
            throw new BackupException($"{target} already exists: restore into a new store");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(source, target);
        using var restored = new SqliteDatabase(target);
        return (await restored.ReadAsync(session => RelationalStore.InventoryAsync(session, cancellationToken), cancellationToken)).Counts;
    }

    /// <summary>
    /// The dump holds one schema; it is restored under the same name, created here when missing (so an empty schema made
    /// by the operator is fine), in one transaction that stops at the first error.
    /// </summary>
    private static async Task<Dictionary<string, long>> RestorePostgresAsync(string from, BackupManifest manifest, PostgresDatabaseLocation target, CancellationToken cancellationToken)
    {
        var dump = Path.Combine(from, manifest.DatabaseFile);
        if (manifest.DatabaseFile != BackupWriter.PostgresFile || !File.Exists(dump) || manifest.PostgresSchema is not { Length: > 0 } schema)
        {
            throw new BackupException($"the backup holds no {BackupWriter.PostgresFile}");
        }

        var pgRestore = PostgresTools.Find("pg_restore") ?? throw new BackupException(
            "pg_restore is not on the PATH: install the PostgreSQL client tools (the dump's major version or newer)");
        var settings = new NpgsqlConnectionStringBuilder(target.ConnectionString);
        if (!string.IsNullOrEmpty(settings.SearchPath) && settings.SearchPath != schema)
        {
            throw new BackupException($"the backup is of schema '{schema}' and restores into a schema of that name; the target names search_path '{settings.SearchPath}'");
        }

        settings.SearchPath = schema;
        await using (var connection = new NpgsqlConnection(settings.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var tables = new NpgsqlCommand("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = @s", connection) { Parameters = { new("s", schema) } };
            if ((long)(await tables.ExecuteScalarAsync(cancellationToken))! > 0)
            {
                throw new BackupException($"schema '{schema}' of {target} already holds tables: restore into an empty one");
            }

            await using var create = new NpgsqlCommand($"CREATE SCHEMA IF NOT EXISTS \"{schema.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var listing = await PostgresTools.RunAsync(pgRestore, settings.ConnectionString, ["--list", dump], cancellationToken);
        if (listing.ExitCode != 0)
        {
            throw new BackupException($"pg_restore cannot read {dump}: {listing.Error}");
        }

        var list = Path.Combine(Path.GetTempPath(), $"liftoff-restore-{Guid.NewGuid():N}.list");
        try
        {
            await File.WriteAllLinesAsync(list, listing.Output.Split('\n').Where(l => !l.Contains(" SCHEMA - ", StringComparison.Ordinal)), cancellationToken);
            var restore = await PostgresTools.RunAsync(pgRestore, settings.ConnectionString,
                ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", $"--use-list={list}", $"--dbname={settings.Database}", dump], cancellationToken);
            if (restore.ExitCode != 0)
            {
                throw new BackupException($"pg_restore failed (exit code {restore.ExitCode}), nothing was restored: {restore.Error}");
            }
        }
        finally
        {
            File.Delete(list);
        }

        await using var restored = new PostgresDatabase(settings.ConnectionString);
        return (await restored.ReadAsync(session => RelationalStore.InventoryAsync(session, cancellationToken), cancellationToken)).Counts;
    }
}
