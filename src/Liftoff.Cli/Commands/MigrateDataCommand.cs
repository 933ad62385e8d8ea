using System.CommandLine;
using Liftoff.Server.Hosting;
using Npgsql;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff server migrate-data</c>: moves an embedded installation's store to PostgreSQL.</summary>
internal sealed class MigrateDataCommand : BaseCommand
{
    private static readonly Option<string> FromOption = new("--from")
    {
        Description = "The SQLite store to move: sqlite://PATH, the liftoff.db file or the data directory holding it.",
        Required = true,
    };

    private static readonly Option<string?> ToOption = new("--to")
    {
        Description = $"The empty PostgreSQL database to fill: postgres://user:password@host:port/database or a Host=…; connection string. Defaults to ${DatabaseLocation.EnvironmentVariable}.",
    };

    public MigrateDataCommand() : base("migrate-data", "Copy an embedded (SQLite) installation into an empty PostgreSQL database, keeping every id. Blob files stay in the data directory.")
    {
        Options.Add(FromOption);
        Options.Add(ToOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var from = parseResult.GetValue(FromOption)!;
        var to = parseResult.GetValue(ToOption) ?? Environment.GetEnvironmentVariable(DatabaseLocation.EnvironmentVariable);
        if (to is null)
        {
            await Console.Error.WriteLineAsync($"liftoff: --to (or ${DatabaseLocation.EnvironmentVariable}) names the PostgreSQL database to fill");
            return ExitCodes.Usage;
        }

        IReadOnlyList<(string Table, long Rows)> copied;
        try
        {
            copied = await DataMigration.SqliteToPostgresAsync(from, to, cancellationToken);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"liftoff: {ex.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (ex is InvalidOperationException or NpgsqlException)
        {
            await Console.Error.WriteLineAsync($"liftoff: migrate-data failed, nothing was written: {ex.Message}");
            return ExitCodes.Failed;
        }

        foreach (var (table, rows) in copied)
        {
            await Console.Error.WriteLineAsync($"  {table,-22} {rows,12:N0} rows");
        }

        await Console.Error.WriteLineAsync($"Copied {copied.Sum(c => c.Rows):N0} rows into {DatabaseLocation.Parse(to, ".")}. Start the servers with --database on it and the same --data-dir (its blobs folder holds the artifact files).");
        return ExitCodes.Success;
    }
}
