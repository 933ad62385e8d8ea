using System.CommandLine;
using Liftoff.Server.Backups;
using Liftoff.Server.Hosting;
using Npgsql;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff admin restore</c>: a backup folder into a new data directory (and an empty PostgreSQL schema), with no server running on it.</summary>
internal sealed class RestoreAdminCommand : BaseCommand
{
    private static readonly Option<string> FromOption = new("--from") { Description = "The backup folder liftoff admin backup wrote.", Required = true };

    private static readonly Option<string> DataDirOption = new("--data-dir") { Description = "The new (empty) data directory to restore into.", Required = true };

    private static readonly Option<string?> DatabaseOption = new("--database")
    {
        Description = "For a PostgreSQL backup: the database to restore into, postgres://user:password@host:port/database (its schema must hold no tables).",
    };

    public RestoreAdminCommand() : base("restore", HostedCommandText.AdminRestore)
    {
        Options.Add(FromOption);
        Options.Add(DataDirOption);
        Options.Add(DatabaseOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var dataDirectory = Path.GetFullPath(parseResult.GetValue(DataDirOption)!);
        try
        {
            var manifest = await BackupRestore.RestoreAsync(Path.GetFullPath(parseResult.GetValue(FromOption)!), dataDirectory, parseResult.GetValue(DatabaseOption), cancellationToken);
            await Console.Error.WriteLineAsync(
                $"Restored the backup of {Output.Time(manifest.CreatedAt)}: {manifest.Counts.GetValueOrDefault("runs")} runs, {manifest.Counts.GetValueOrDefault("items")} items, "
                + $"{manifest.Blobs.Count} blobs{(manifest.BlobsIncluded ? " (each checked)" : " (not in the backup)")}. Start the server with --data-dir {dataDirectory}"
                + (manifest.Database == "postgres" ? " and --database on the restored database." : "."));
            foreach (var note in manifest.Notes)
            {
                await Console.Error.WriteLineAsync($"Note: {note}");
            }

            return ExitCodes.Success;
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"liftoff: --database: {ex.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (ex is BackupException or NpgsqlException)
        {
            await Console.Error.WriteLineAsync($"liftoff: restore refused, nothing was restored: {ex.Message}");
            return ExitCodes.Failed;
        }
    }
}
