using System.CommandLine;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

/// <summary>
/// <c>liftoff admin backup --to DIR</c>: asks the running server for a backup (the server admin's key) and writes it
/// into an empty folder, checking every blob's SHA-256 against its name and every file against the manifest.
/// </summary>
internal sealed partial class BackupAdminCommand : BaseCommand
{
    private static readonly Option<string> ToOption = new("--to") { Description = "The folder to write the backup into: new or empty.", Required = true };

    public BackupAdminCommand() : base("backup", "Back up the running server (server admin): a consistent snapshot of the store, the blobs it references and a manifest. See docs/backup.md.")
    {
        Options.Add(ToOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var to = Path.GetFullPath(parseResult.GetValue(ToOption)!);
        if (Directory.Exists(to) && Directory.EnumerateFileSystemEntries(to).Any())
        {
            await Console.Error.WriteLineAsync($"liftoff: --to: {to} is not empty; back up into a new folder");
            return ExitCodes.Usage;
        }

        if (File.Exists(to))
        {
            await Console.Error.WriteLineAsync($"liftoff: --to: {to} is a file; back up into a new folder");
            return ExitCodes.Usage;
        }

        using var client = Connect();
        await using var stream = await client.OpenBackupAsync(cancellationToken);
        Directory.CreateDirectory(to);
        BackupManifest manifest;
        try
        {
            manifest = await ExtractAsync(stream, to, cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException or IOException)
        {
            Directory.Delete(to, recursive: true);
            Directory.CreateDirectory(to);
            await Console.Error.WriteLineAsync($"liftoff: the backup did not arrive whole, and {to} was emptied: {ex.Message}");
            return ExitCodes.Failed;
        }

        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(manifest, LiftoffJsonContext.Default.BackupManifest);
        }

        await Console.Error.WriteLineAsync(
            $"Backed up {manifest.Counts.GetValueOrDefault("runs")} runs, {manifest.Counts.GetValueOrDefault("items")} items and {manifest.Blobs.Count} blobs "
            + $"({manifest.Blobs.Sum(b => b.Size):N0} bytes{(manifest.BlobsIncluded ? "" : ", NOT copied")}) as of {Output.Time(manifest.CreatedAt)}, "
            + $"{manifest.Database} store at schema version {manifest.SchemaVersion}, into {to}.");
        foreach (var note in manifest.Notes)
        {
            await Console.Error.WriteLineAsync($"Note: {note}");
        }

        return ExitCodes.Success;
    }

    /// <summary>Writes each entry under <paramref name="to"/>; only the names a backup holds are accepted, so no entry can land outside it.</summary>
    private static async Task<BackupManifest> ExtractAsync(Stream stream, string to, CancellationToken cancellationToken)
    {
        await using var tar = new TarReader(stream);
        BackupManifest? manifest = null;
        var written = new HashSet<string>(StringComparer.Ordinal);
        while (await tar.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            if (entry.DataStream is null)
            {
                throw new InvalidDataException($"entry '{entry.Name}' holds no data");
            }

            if (manifest is null)
            {
                if (entry.Name != "manifest.json")
                {
                    throw new InvalidDataException($"the backup starts with '{entry.Name}', not its manifest");
                }

                using var copy = new MemoryStream();
                await entry.DataStream.CopyToAsync(copy, cancellationToken);
                await File.WriteAllBytesAsync(Path.Combine(to, entry.Name), copy.ToArray(), cancellationToken);
                manifest = JsonSerializer.Deserialize(copy.ToArray(), LiftoffJsonContext.Default.BackupManifest)
                    ?? throw new InvalidDataException("the manifest is empty");
                continue;
            }

            var blob = BlobName().Match(entry.Name);
            if (entry.Name != manifest.DatabaseFile && !(blob.Success && blob.Groups[1].Value == blob.Groups[2].Value[..2]))
            {
                throw new InvalidDataException($"unexpected entry '{entry.Name}'");
            }

            var path = Path.Combine(to, entry.Name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await entry.DataStream.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            if (blob.Success && Convert.ToHexStringLower(hash.GetHashAndReset()) is var actual && actual != blob.Groups[2].Value)
            {
                throw new InvalidDataException($"blob {blob.Groups[2].Value} arrived hashing to {actual}");
            }

            written.Add(entry.Name);
        }

        if (manifest is null)
        {
            throw new InvalidDataException("the backup is empty");
        }

        var missing = (manifest.BlobsIncluded ? manifest.Blobs.Select(b => $"blobs/sha256/{b.Sha256[..2]}/{b.Sha256}") : [])
            .Append(manifest.DatabaseFile).Where(name => !written.Contains(name)).ToList();
        return missing.Count == 0 ? manifest : throw new InvalidDataException($"the stream ended without {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}");
    }

    [GeneratedRegex("^blobs/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")]
    private static partial Regex BlobName();
}
