using Liftoff.Client;
using Liftoff.Server.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Liftoff.Testing;

/// <summary>
/// A real Liftoff server on a free 127.0.0.1 port, shared by a test class: SQLite in a temp directory, or whatever
/// store a subclass's <see cref="CreateDatabaseAsync"/> names (blobs stay in the temp directory).
/// </summary>
public class ServerFixture : IAsyncLifetime
{
    private readonly TempDirectory _data = new();
    private LiftoffServer? _server;

    /// <summary>Seconds without heartbeat before a run is crashed; short so crash tests finish quickly.</summary>
    protected virtual TimeSpan HeartbeatTimeout => TimeSpan.FromSeconds(60);

    /// <summary>How long a claim holds an item without a heartbeat.</summary>
    protected virtual TimeSpan ItemLease => TimeSpan.FromSeconds(30);

    /// <summary>Console bytes above which an ended run's console moves to a blob; the server's default unless overridden.</summary>
    protected virtual long LogArchiveBytes => 1L << 20;

    /// <summary>How long after a run ends its console may be archived.</summary>
    protected virtual TimeSpan LogArchiveGrace => TimeSpan.FromHours(1);

    /// <summary>The server's clock.</summary>
    protected virtual TimeProvider Time => TimeProvider.System;

    /// <summary>The port of its own that <c>/metrics</c> is served on; null serves it on the API port, to the admin's key.</summary>
    public virtual int? MetricsPort => null;

    public LiftoffServer Server => _server ?? throw new InvalidOperationException("the server has not started");

    public Uri BaseUrl => Server.BaseUrl;

    public string AdminKey { get; private set; } = "";

    public string DataDirectory => _data.Path;

    /// <summary>The <c>--database</c> the server runs on; null for SQLite in <see cref="DataDirectory"/>.</summary>
    public string? Database { get; private set; }

    /// <summary>The <c>--blobs</c> the server runs on; null for the filesystem in <see cref="DataDirectory"/>.</summary>
    public string? Blobs { get; private set; }

    public async Task InitializeAsync()
    {
        Database = await CreateDatabaseAsync();
        Blobs = await CreateBlobsAsync();
        _server = await StartServerAsync();
        AdminKey = _server.InitialAdminKey ?? throw new InvalidOperationException("a fresh server must create its admin key");
    }

    /// <summary>Another server on the same store and data directory, as a second replica; the caller disposes it.</summary>
    public Task<LiftoffServer> StartServerAsync() => LiftoffServer.StartAsync(
        new ServerOptions
        {
            DataDirectory = _data.Path, Database = Database, Blobs = Blobs, Port = 0, MetricsPort = MetricsPort, AdminName = "admin", RunHeartbeatTimeout = HeartbeatTimeout, ItemLease = ItemLease,
            LogArchiveBytes = LogArchiveBytes, LogArchiveGrace = LogArchiveGrace, TimeProvider = Time,
            S3AccessKeyId = Blobs is null ? null : S3rver.AccessKeyId, S3SecretAccessKey = Blobs is null ? null : S3rver.SecretAccessKey,
        },
        logging => logging.AddFilter(_ => false));

    /// <summary>A fresh, empty store for this fixture's server; null for SQLite in <see cref="DataDirectory"/>.</summary>
    protected virtual Task<string?> CreateDatabaseAsync() => Task.FromResult<string?>(null);

    /// <summary>Removes what <see cref="CreateDatabaseAsync"/> made, once the server has stopped.</summary>
    protected virtual ValueTask DropDatabaseAsync() => ValueTask.CompletedTask;

    /// <summary>A fresh blob store for this fixture's server; null for the filesystem in <see cref="DataDirectory"/>.</summary>
    protected virtual Task<string?> CreateBlobsAsync() => Task.FromResult<string?>(null);

    /// <summary>Removes what <see cref="CreateBlobsAsync"/> made, once the server has stopped.</summary>
    protected virtual ValueTask DropBlobsAsync() => ValueTask.CompletedTask;

    public LiftoffClient Client(string? key = null) => new(new LiftoffSettings(BaseUrl, key ?? AdminKey));

    public HttpClient Http(string? key = null)
    {
        var http = new HttpClient { BaseAddress = BaseUrl };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        return http;
    }

    /// <summary>A new user with its own key, for isolation between tests.</summary>
    public async Task<string> NewUserKeyAsync(string? name = null)
    {
        using var admin = Client();
        var user = await admin.CreateUserAsync(name ?? "u" + Guid.NewGuid().ToString("N")[..12]);
        return user.Key.Key;
    }

    /// <summary>A new team with an admin, a member and a viewer, each a new user with a key.</summary>
    public async Task<TestTeam> NewTeamAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (admin, member, viewer) = ("admin-" + suffix, "member-" + suffix, "viewer-" + suffix);
        var team = new TestTeam("team-" + suffix, admin, await NewUserKeyAsync(admin), member, await NewUserKeyAsync(member), viewer, await NewUserKeyAsync(viewer));
        using var serverAdmin = Client();
        await serverAdmin.CreateTeamAsync(team.Name, admin);
        using var teamAdmin = Client(team.AdminKey);
        await teamAdmin.SetTeamMemberAsync(team.Name, member, "member");
        await teamAdmin.SetTeamMemberAsync(team.Name, viewer, "viewer");
        return team;
    }

    public Dictionary<string, string?> PythonEnv(string key, params (string Name, string? Value)[] extra)
    {
        var env = new Dictionary<string, string?> { ["LIFTOFF_BASE_URL"] = BaseUrl.ToString(), ["LIFTOFF_API_KEY"] = key };
        foreach (var (name, value) in extra)
        {
            env[name] = value;
        }

        return env;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        await DropDatabaseAsync();
        await DropBlobsAsync();
        _data.Dispose();
    }
}

/// <summary>A server that marks silent runs crashed after two seconds.</summary>
public sealed class FastCrashServerFixture : ServerFixture
{
    protected override TimeSpan HeartbeatTimeout => TimeSpan.FromSeconds(2);
}

/// <summary>
/// A server on a clock the test moves (<see cref="Clock"/>), for leases, start timeouts, crash detection and claim waits
/// that would otherwise take real seconds. The reapers' timers fire when the clock is advanced past their period.
/// </summary>
public sealed class FakeClockServerFixture : ServerFixture
{
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero));

    protected override TimeProvider Time => Clock;
}

/// <summary>The server on PostgreSQL (a schema of its own on the test cluster) instead of SQLite.</summary>
public class PostgresServerFixture : ServerFixture
{
    private PostgresSchema? _schema;

    protected override async Task<string?> CreateDatabaseAsync()
    {
        _schema = await PostgresSchema.CreateAsync();
        return _schema.ConnectionString;
    }

    protected override async ValueTask DropDatabaseAsync()
    {
        if (_schema is not null)
        {
            await _schema.DisposeAsync();
        }
    }
}

/// <summary>The server with its blobs in a bucket of a real S3-compatible server (s3rver) of its own.</summary>
public class S3ServerFixture : ServerFixture
{
    private S3rver? _s3;

    public S3rver S3 => _s3 ?? throw new InvalidOperationException("s3rver has not started");

    protected override async Task<string?> CreateBlobsAsync()
    {
        _s3 = await S3rver.StartAsync();
        return _s3.BlobsLocation;
    }

    protected override async ValueTask DropBlobsAsync()
    {
        if (_s3 is not null)
        {
            await _s3.DisposeAsync();
        }
    }
}

/// <summary>A server that archives any ended run's console (over 64 bytes) at its next sweep.</summary>
public sealed class LogArchiveServerFixture : ServerFixture
{
    protected override long LogArchiveBytes => 64;

    protected override TimeSpan LogArchiveGrace => TimeSpan.Zero;
}

/// <summary>On PostgreSQL, a server that archives any ended run's console (over 64 bytes) at its next sweep.</summary>
public sealed class PostgresLogArchiveServerFixture : PostgresServerFixture
{
    protected override long LogArchiveBytes => 64;

    protected override TimeSpan LogArchiveGrace => TimeSpan.Zero;
}

/// <summary>With blobs in s3rver, a server that archives any ended run's console (over 64 bytes) at its next sweep.</summary>
public sealed class S3LogArchiveServerFixture : S3ServerFixture
{
    protected override long LogArchiveBytes => 64;

    protected override TimeSpan LogArchiveGrace => TimeSpan.Zero;
}

/// <summary>A team made by <see cref="ServerFixture.NewTeamAsync"/>: its name, and each member's user name and key.</summary>
public sealed record TestTeam(string Name, string Admin, string AdminKey, string Member, string MemberKey, string Viewer, string ViewerKey);
