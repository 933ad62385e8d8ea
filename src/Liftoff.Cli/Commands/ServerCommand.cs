using System.CommandLine;
using System.Globalization;
using Liftoff.Core;
using Liftoff.Server.Hosting;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff server</c>: the HTTP API and store, without an agent.</summary>
internal sealed class ServerCommand : BaseCommand
{
    public static readonly Option<string> DataDirOption = new("--data-dir")
    {
        Description = "Where the database and blobs live.",
        DefaultValueFactory = _ => DefaultDataDirectory(),
    };

    public static readonly Option<int> PortOption = new("--port")
    {
        Description = "The TCP port to listen on (0 picks a free one).",
        DefaultValueFactory = _ => 8080,
    };

    public static readonly Option<int?> MetricsPortOption = new("--metrics-port")
    {
        Description = "Serve GET /metrics (Prometheus) on this port of --host, without a key, and nothing else there. "
            + "Without it, /metrics is on --port for the server admin's key only.",
    };

    public static readonly Option<string> HostOption = new("--host")
    {
        Description = "The address to listen on.",
        DefaultValueFactory = _ => "127.0.0.1",
    };

    public static readonly Option<double> HeartbeatTimeoutOption = new("--heartbeat-timeout")
    {
        Description = "Seconds without a heartbeat after which a running run is marked crashed.",
        DefaultValueFactory = _ => 60,
    };

    public static readonly Option<string?> LogArchiveBytesOption = new("--log-archive-bytes")
    {
        Description = $"Move an ended run's console to the blob store once it holds more than this many bytes of text "
            + $"(default {DefaultLogArchiveBytes}, 1 MiB; 0 never). Defaults to ${LogArchiveBytesVariable}.",
    };

    public static readonly Option<double> LogArchiveAfterOption = new("--log-archive-after")
    {
        Description = "Seconds after a run ends before its console may be moved to the blob store; writes to archived lines are refused.",
        DefaultValueFactory = _ => 3600,
    };

    public static readonly Option<string?> AuditRetentionOption = new("--audit-retention-days")
    {
        Description = $"Days audit log entries are kept (default {ServerOptions.DefaultAuditRetentionDays}; 0 forever). Defaults to ${AuditRetentionVariable}.",
    };

    private const string AuditRetentionVariable = "LIFTOFF_AUDIT_RETENTION_DAYS";
    private const string LogArchiveBytesVariable = "LIFTOFF_LOG_ARCHIVE_BYTES";
    private const long DefaultLogArchiveBytes = 1L << 20;

    private static readonly Option<string?> DatabaseOption = new("--database")
    {
        Description = $"Where the store lives: sqlite://PATH (default: liftoff.db in --data-dir), postgres://user:password@host:port/database, "
            + $"or a Host=…;Database=…; connection string. Defaults to ${DatabaseLocation.EnvironmentVariable}. Blobs stay in --data-dir.",
    };

    private static readonly Option<string?> BlobsOption = new("--blobs")
    {
        Description = $"Where artifact files live: file://PATH (default: blobs/ in --data-dir) or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION "
            + $"for an S3-compatible bucket (no endpoint: AWS S3), which clients then reach directly through presigned URLs. Defaults to ${BlobLocation.EnvironmentVariable}. "
            + $"S3 keys come from ${S3AccessKeyVariable} and ${S3SecretKeyVariable}, else from the AWS SDK's usual AWS_* variables, profile or instance role.",
    };

    private const string SecretKeysVariable = "LIFTOFF_SECRET_KEYS";

    private static readonly Option<string?> SecretKeysOption = new("--secret-keys")
    {
        Description = $"The directory of the key ring that encrypts secrets (default: secret-keys/ in --data-dir; ${SecretKeysVariable}). "
            + "Replicas on one PostgreSQL must share it (see docs/secrets.md).",
    };

    private const string S3AccessKeyVariable = "LIFTOFF_S3_ACCESS_KEY_ID";
    private const string S3SecretKeyVariable = "LIFTOFF_S3_SECRET_ACCESS_KEY";

    private static readonly Option<string> AdminOption = new("--admin")
    {
        Description = "The name of the admin user created on first start.",
        DefaultValueFactory = _ => "admin",
    };

    public ServerCommand() : base("server", HostedCommandText.Server)
    {
        Options.Add(DataDirOption);
        Options.Add(PortOption);
        Options.Add(MetricsPortOption);
        Options.Add(HostOption);
        Options.Add(HeartbeatTimeoutOption);
        Options.Add(LogArchiveBytesOption);
        Options.Add(AuditRetentionOption);
        Options.Add(LogArchiveAfterOption);
        Options.Add(AdminOption);
        Options.Add(DatabaseOption);
        Options.Add(BlobsOption);
        Options.Add(SecretKeysOption);
        Subcommands.Add(new MigrateDataCommand());
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        if (ReadOptions(parseResult, parseResult.GetValue(AdminOption)!) is not { } options)
        {
            return ExitCodes.Usage;
        }

        // Read here, not as the option's default, so that --help never prints a password from the environment.
        options.Database = parseResult.GetValue(DatabaseOption) ?? Environment.GetEnvironmentVariable(DatabaseLocation.EnvironmentVariable);
        try
        {
            DatabaseLocation.Parse(options.Database, options.DataDirectory);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"liftoff: --database: {ex.Message}");
            return ExitCodes.Usage;
        }

        options.Blobs = parseResult.GetValue(BlobsOption) ?? Environment.GetEnvironmentVariable(BlobLocation.EnvironmentVariable);
        BlobLocation blobs;
        try
        {
            blobs = BlobLocation.Parse(options.Blobs, options.DataDirectory);
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"liftoff: --blobs: {ex.Message}");
            return ExitCodes.Usage;
        }

        options.SecretKeysDirectory = parseResult.GetValue(SecretKeysOption) ?? Environment.GetEnvironmentVariable(SecretKeysVariable);
        options.S3AccessKeyId = Environment.GetEnvironmentVariable(S3AccessKeyVariable);
        options.S3SecretAccessKey = Environment.GetEnvironmentVariable(S3SecretKeyVariable);
        if (blobs is S3BlobLocation && (options.S3AccessKeyId is null) != (options.S3SecretAccessKey is null))
        {
            await Console.Error.WriteLineAsync($"liftoff: --blobs: set both {S3AccessKeyVariable} and {S3SecretKeyVariable}, or neither (to use the AWS SDK's own credentials)");
            return ExitCodes.Usage;
        }

        await using var server = await LiftoffServer.StartAsync(options, cancellationToken: cancellationToken);
        await Console.Error.WriteLineAsync($"Liftoff server listening on {server.BaseUrl} (store {server.Database}, blobs {blobs}, data in {options.DataDirectory})");
        if (server.InitialAdminKey is { } key)
        {
            await Console.Error.WriteLineAsync($"Created admin user '{options.AdminName}'. Its API key, shown only this once:");
            Console.WriteLine(key);
        }

        await server.WaitForShutdownAsync(cancellationToken);
        return ExitCodes.Success;
    }

    /// <summary>The server options shared by <c>server</c> and <c>up</c>; null (after a message) when one is invalid.</summary>
    public static ServerOptions? ReadOptions(ParseResult parseResult, string adminName)
    {
        var port = parseResult.GetValue(PortOption);
        var metricsPort = parseResult.GetValue(MetricsPortOption);
        var heartbeat = parseResult.GetValue(HeartbeatTimeoutOption);
        var archiveAfter = parseResult.GetValue(LogArchiveAfterOption);
        var (archiveBytes, archiveError) = ReadLogArchiveBytes(parseResult);
        var (retentionDays, retentionError) = ReadAuditRetention(parseResult);
        string? error = null;
        if (port is < 0 or > 65535)
        {
            error = $"--port {port} is not a TCP port (0 to 65535)";
        }
        else if (metricsPort is not null && (metricsPort is < 1 or > 65535 || metricsPort == port))
        {
            error = $"--metrics-port {metricsPort} is not a TCP port other than --port (1 to 65535)";
        }
        else if (!double.IsFinite(heartbeat) || heartbeat <= 0)
        {
            error = "--heartbeat-timeout must be a positive number of seconds";
        }
        else if (archiveError is not null)
        {
            error = archiveError;
        }
        else if (retentionError is not null)
        {
            error = retentionError;
        }
        else if (!double.IsFinite(archiveAfter) || archiveAfter < 0)
        {
            error = "--log-archive-after must be a number of seconds, 0 or more";
        }
        else if (!Names.IsValid(adminName))
        {
            error = $"--admin '{adminName}' is not a valid user name: {Names.Rule}";
        }

        if (error is not null)
        {
            Console.Error.WriteLine($"liftoff: {error}");
            return null;
        }

        return new ServerOptions
        {
            DataDirectory = Path.GetFullPath(parseResult.GetValue(DataDirOption)!),
            Port = port,
            MetricsPort = metricsPort,
            Host = parseResult.GetValue(HostOption)!,
            AdminName = adminName,
            RunHeartbeatTimeout = TimeSpan.FromSeconds(heartbeat),
            LogArchiveBytes = archiveBytes,
            LogArchiveGrace = TimeSpan.FromSeconds(archiveAfter),
            AuditRetention = TimeSpan.FromDays(retentionDays),
        };
    }

    /// <summary>The archive threshold from the option, else the environment, else the default; or what is wrong with it.</summary>
    private static (long Bytes, string? Error) ReadLogArchiveBytes(ParseResult parseResult)
    {
        var (name, text) = parseResult.GetValue(LogArchiveBytesOption) is { } option
            ? ("--log-archive-bytes", option)
            : (LogArchiveBytesVariable, Environment.GetEnvironmentVariable(LogArchiveBytesVariable));
        if (string.IsNullOrEmpty(text))
        {
            return (DefaultLogArchiveBytes, null);
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
            ? (bytes, null)
            : (0, $"{name} '{text}' is not a number of bytes (a whole number, 0 or more; 0 keeps every console in the database)");
    }

    /// <summary>The audit retention in days from the option, else the environment, else the default; or what is wrong with it.</summary>
    private static (int Days, string? Error) ReadAuditRetention(ParseResult parseResult)
    {
        var (name, text) = parseResult.GetValue(AuditRetentionOption) is { } option
            ? ("--audit-retention-days", option)
            : (AuditRetentionVariable, Environment.GetEnvironmentVariable(AuditRetentionVariable));
        if (string.IsNullOrEmpty(text))
        {
            return (ServerOptions.DefaultAuditRetentionDays, null);
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var days) && days <= 36_500
            ? (days, null)
            : (0, $"{name} '{text}' is not a number of days (a whole number, 0 to 36500; 0 keeps every entry)");
    }

    private static string DefaultDataDirectory()
    {
        var dataHome = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (string.IsNullOrEmpty(dataHome))
        {
            dataHome = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        }

        return Path.Combine(dataHome, "liftoff");
    }
}
