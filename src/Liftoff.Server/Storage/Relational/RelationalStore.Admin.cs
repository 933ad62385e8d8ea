using System.Globalization;
using Liftoff.Contracts;

namespace Liftoff.Server.Storage.Relational;

/// <summary>Usage by project (<see cref="IAdminStore"/>), and the inventory a backup records of its snapshot.</summary>
internal sealed partial class RelationalStore : IAdminStore
{
    /// <summary>The tables whose rows a backup counts, so that a restore can check it got all of them.</summary>
    public static readonly IReadOnlyList<string> CountedTables =
    [
        "entities", "api_keys", "projects", "runs", "history", "console", "console_archives", "blobs", "artifact_versions", "artifact_files",
        "queues", "items", "item_events", "audit_log",
    ];

    public Task<UsageReport> ReadUsageAsync(CancellationToken cancellationToken) =>
        database.ReadAsync(async session =>
        {
            var d = session.Database;
            // SUM of a bigint is numeric on PostgreSQL: every figure is cast back to one.
            var projects = await session.ListAsync($"""
                SELECT e.name, p.name,
                    CAST(COALESCE((SELECT SUM({d.Utf8Length("h.data")}) FROM history h JOIN runs r ON r.seq = h.run_seq WHERE r.project_id = p.id), 0) AS BIGINT),
                    CAST(COALESCE((SELECT SUM({d.Utf8Length("c.text")}) FROM console c JOIN runs r ON r.seq = c.run_seq WHERE r.project_id = p.id), 0)
                        + COALESCE((SELECT SUM(a.size) FROM console_archives a JOIN runs r ON r.seq = a.run_seq WHERE r.project_id = p.id AND a.sha256 IS NOT NULL), 0) AS BIGINT),
                    CAST(COALESCE((SELECT SUM(f.size) FROM (
                        SELECT DISTINCT af.digest, af.size FROM artifact_files af
                        JOIN artifact_versions v ON v.id = af.version_id JOIN artifact_collections ac ON ac.id = v.collection_id
                        WHERE ac.project_id = p.id) f), 0) AS BIGINT)
                FROM projects p JOIN entities e ON e.id = p.entity_id
                ORDER BY e.name, p.name
                """, r => new ProjectUsage(r.String(0), r.String(1), r.Long(2), r.Long(3), r.Long(4)), cancellationToken);
            var blobBytes = Convert.ToInt64(await session.ScalarAsync(
                "SELECT CAST(COALESCE((SELECT SUM(size) FROM blobs), 0) + COALESCE((SELECT SUM(size) FROM console_archives WHERE sha256 IS NOT NULL), 0) AS BIGINT)",
                cancellationToken), CultureInfo.InvariantCulture);
            return new UsageReport(projects, new UsageTotals(
                projects.Sum(p => p.HistoryBytes), projects.Sum(p => p.ConsoleBytes), projects.Sum(p => p.ArtifactBytes), blobBytes));
        }, cancellationToken);

    /// <summary>
    /// The schema version, row counts and referenced blobs of what <paramref name="session"/> sees: run inside the
    /// snapshot being backed up, so that the manifest describes exactly the database beside it.
    /// </summary>
    public static async Task<(int SchemaVersion, Dictionary<string, long> Counts, List<BackupBlob> Blobs)> InventoryAsync(DbSession session, CancellationToken cancellationToken)
    {
        var version = Convert.ToInt32(await session.ScalarAsync("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken), CultureInfo.InvariantCulture);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in CountedTables)
        {
            counts[table] = Convert.ToInt64(await session.ScalarAsync($"SELECT COUNT(*) FROM {table}", cancellationToken), CultureInfo.InvariantCulture);
        }

        var blobs = await session.ListAsync(
            "SELECT digest, size FROM blobs UNION SELECT sha256, size FROM console_archives WHERE sha256 IS NOT NULL ORDER BY 1",
            r => new BackupBlob(r.String(0), r.Long(1)), cancellationToken);
        return (version, counts, blobs);
    }
}
