using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Runs;

/// <summary>Console archives on SQLite with blobs on the filesystem (the defaults).</summary>
public sealed class ConsoleArchiveApiTests(LogArchiveServerFixture server) : ConsoleArchiveApiContract(server), IClassFixture<LogArchiveServerFixture>;

/// <summary>Console archives on PostgreSQL.</summary>
public sealed class PostgresConsoleArchiveApiTests(PostgresLogArchiveServerFixture server) : ConsoleArchiveApiContract(server), IClassFixture<PostgresLogArchiveServerFixture>;

/// <summary>Console archives with blobs in a bucket of s3rver.</summary>
public sealed class S3ConsoleArchiveApiTests(S3LogArchiveServerFixture server) : ConsoleArchiveApiContract(server), IClassFixture<S3LogArchiveServerFixture>;
