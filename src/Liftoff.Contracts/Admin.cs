namespace Liftoff.Contracts;

/// <summary>
/// <c>manifest.json</c> of a backup: what <c>liftoff admin restore</c> checks before it writes anything. The database
/// is <see cref="DatabaseFile"/> beside it (<c>liftoff.db</c>, a SQLite snapshot, or <c>database.pgdump</c>, a
/// <c>pg_dump</c> custom-format archive of <see cref="PostgresSchema"/>); blobs are under <c>blobs/sha256/</c> when
/// <see cref="BlobsIncluded"/>. <see cref="Counts"/> are rows per table in the snapshot, and <see cref="Blobs"/> every
/// blob the snapshot references, named by its SHA-256. <see cref="Notes"/> say what the operator must copy themselves.
/// </summary>
public sealed record BackupManifest(
    int Format, int SchemaVersion, DateTimeOffset CreatedAt, string Database, string DatabaseFile, string? PostgresSchema,
    bool BlobsIncluded, string BlobStore, IReadOnlyDictionary<string, long> Counts, IReadOnlyList<BackupBlob> Blobs, IReadOnlyList<string> Notes);

/// <summary>A blob in a backup: its SHA-256 (its name) and size in bytes.</summary>
public sealed record BackupBlob(string Sha256, long Size);

/// <summary>
/// <c>GET /api/v1/admin/usage</c>: bytes stored, by project and by kind. History and console bytes are the UTF-8 text
/// kept in the store (a console archived to a blob counts that blob's size); artifact bytes are the distinct files of
/// the project's artifact versions. <see cref="UsageTotals.BlobBytes"/> is the whole blob store, shared content counted once.
/// </summary>
public sealed record UsageReport(IReadOnlyList<ProjectUsage> Projects, UsageTotals Totals);

public sealed record ProjectUsage(string Entity, string Project, long HistoryBytes, long ConsoleBytes, long ArtifactBytes);

public sealed record UsageTotals(long HistoryBytes, long ConsoleBytes, long ArtifactBytes, long BlobBytes);
