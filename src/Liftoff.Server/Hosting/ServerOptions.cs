using Liftoff.Core.Runs;

namespace Liftoff.Server.Hosting;

/// <summary>How a Liftoff server runs; bound from the command line of <c>liftoff server</c> / <c>liftoff up</c>.</summary>
public sealed class ServerOptions
{
    /// <summary>Where the database and blobs live.</summary>
    public required string DataDirectory { get; set; }

    /// <summary>
    /// Where the store lives (see <see cref="DatabaseLocation.Parse"/>): null for SQLite in <see cref="DataDirectory"/>,
    /// or a PostgreSQL URL or connection string.
    /// </summary>
    public string? Database { get; set; }

    /// <summary>
    /// Where blobs live (see <see cref="BlobLocation.Parse"/>): null for <c>blobs/</c> in <see cref="DataDirectory"/>,
    /// or an <c>s3://</c> bucket, which clients then reach directly through presigned URLs.
    /// </summary>
    public string? Blobs { get; set; }

    /// <summary>The S3 keys for an <c>s3://</c> <see cref="Blobs"/>; when null, the AWS SDK's own chain (AWS_* variables, profile, instance role).</summary>
    public string? S3AccessKeyId { get; set; }

    public string? S3SecretAccessKey { get; set; }

    /// <summary>
    /// The Data Protection key ring that encrypts secrets (<c>--secret-keys</c>, <c>LIFTOFF_SECRET_KEYS</c>): null for
    /// <c>secret-keys/</c> in <see cref="DataDirectory"/>. Replicas on one PostgreSQL share one directory (or copies of
    /// one ring), or each decrypts only what it encrypted.
    /// </summary>
    public string? SecretKeysDirectory { get; set; }

    public string Host { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port.</summary>
    public int Port { get; set; } = 8080;

    /// <summary>
    /// A port of its own for <c>GET /metrics</c> (<c>--metrics-port</c>), on <see cref="Host"/>: there it needs no key and
    /// nothing else is served, the usual way to let Prometheus scrape. Null serves <c>/metrics</c> on <see cref="Port"/>
    /// to the server admin's key only.
    /// </summary>
    public int? MetricsPort { get; set; }

    /// <summary>The entity created on first start, with the first API key.</summary>
    public string AdminName { get; set; } = "admin";

    /// <summary>A running run silent for longer than this becomes crashed.</summary>
    public TimeSpan RunHeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a claim holds an item without a heartbeat from its agent.</summary>
    public TimeSpan ItemLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock of leases, timeouts and timestamps; tests pass one they move, so expiry takes no real time.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    public long MaxRequestBodyBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>
    /// An ended run whose console holds more than this many bytes of text in the database has it moved to one blob
    /// (<c>--log-archive-bytes</c>, <c>LIFTOFF_LOG_ARCHIVE_BYTES</c>); 0 keeps every console in the database.
    /// </summary>
    public long LogArchiveBytes { get; set; } = 1L << 20;

    /// <summary>How long after a run ends its console may be archived (late writes below the archive are refused).</summary>
    public TimeSpan LogArchiveGrace { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long audit log entries are kept (<c>--audit-retention-days</c>, <c>LIFTOFF_AUDIT_RETENTION_DAYS</c>); older
    /// ones are deleted by a sweep every <see cref="AuditSweepInterval"/>. <see cref="TimeSpan.Zero"/> keeps them forever.
    /// </summary>
    public TimeSpan AuditRetention { get; set; } = TimeSpan.FromDays(DefaultAuditRetentionDays);

    public const int DefaultAuditRetentionDays = 90;

    public TimeSpan AuditSweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The largest artifact file accepted; blob uploads stream, so this bounds disk use, not memory.</summary>
    public long MaxBlobBytes { get; set; } = 1L << 40;

    /// <summary>
    /// The ids of the runs claims start. Random, so a collision (with a run id a client chose) is rare; tests set a
    /// sequence to force one.
    /// </summary>
    internal Func<string> NewRunId { get; set; } = RunIds.NewId;
}
