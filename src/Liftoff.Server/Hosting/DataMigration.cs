using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Sqlite;

namespace Liftoff.Server.Hosting;

/// <summary><c>liftoff server migrate-data</c>: moves an embedded (SQLite) installation to PostgreSQL.</summary>
public static class DataMigration
{
    /// <summary>
    /// Copies every row of the SQLite store at <paramref name="from"/> into the empty PostgreSQL database at
    /// <paramref name="to"/>; returns the rows copied per table. Blob files (artifact files and archived consoles) are not in
    /// the database: they stay in the data directory's <c>blobs</c> folder (or the bucket), which the PostgreSQL servers
    /// must keep using. Throws
    /// <see cref="FormatException"/> for locations of the wrong kind and <see cref="InvalidOperationException"/> when
    /// the target already holds data or the source does not exist.
    /// </summary>
    public static async Task<IReadOnlyList<(string Table, long Rows)>> SqliteToPostgresAsync(string from, string to, CancellationToken cancellationToken)
    {
        if (DatabaseLocation.Parse(from, Directory.GetCurrentDirectory()) is not SqliteDatabaseLocation source || !from.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("--from is the SQLite store to move: sqlite://PATH (the liftoff.db file or the data directory holding it)");
        }

        if (DatabaseLocation.Parse(to, Directory.GetCurrentDirectory()) is not PostgresDatabaseLocation target)
        {
            throw new FormatException("--to is the PostgreSQL database to fill: postgres://user:password@host:port/database or Host=…;Database=…;");
        }

        if (!File.Exists(source.Path))
        {
            throw new InvalidOperationException($"there is no SQLite store at {source.Path}");
        }

        using var sqlite = new SqliteDatabase(source.Path);
        await using var postgres = new PostgresDatabase(target.ConnectionString);
        return await SqliteToPostgres.CopyAsync(sqlite, postgres, cancellationToken);
    }
}
