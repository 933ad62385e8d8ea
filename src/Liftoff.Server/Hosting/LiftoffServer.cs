using System.Text.Json.Serialization.Metadata;
using Liftoff.Contracts;
using Liftoff.Server.Apis;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Blobs;
using Liftoff.Server.Launch;
using Liftoff.Server.Metrics;
using Liftoff.Server.Runs;
using Liftoff.Server.Sdk;
using Liftoff.Server.Secrets;
using Liftoff.Server.Storage;
using Liftoff.Server.Storage.Postgres;
using Liftoff.Server.Storage.Relational;
using Liftoff.Server.Storage.Sqlite;
using Liftoff.Server.Wandb;
using Liftoff.Server.Web;
using Liftoff.Targets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Hosting;

/// <summary>A running Liftoff server: what <c>liftoff server</c>, <c>liftoff up</c> and the tests start.</summary>
public sealed class LiftoffServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LiftoffServer(WebApplication app, Uri baseUrl, DatabaseLocation database, string? initialAdminKey)
    {
        _app = app;
        BaseUrl = baseUrl;
        Database = database;
        InitialAdminKey = initialAdminKey;
    }

    public Uri BaseUrl { get; }

    /// <summary>Where the store lives; printable (no password).</summary>
    public DatabaseLocation Database { get; }

    /// <summary>The admin's first API key, when this start created the admin (the first start on a data directory).</summary>
    public string? InitialAdminKey { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<LiftoffServer> StartAsync(ServerOptions options, Action<ILoggingBuilder>? logging = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.DataDirectory);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Liftoff.Server", Args = [] });
        builder.WebHost.UseUrls([$"http://{options.Host}:{options.Port}", .. options.MetricsPort is { } metricsPort ? [$"http://{options.Host}:{metricsPort}"] : Array.Empty<string>()]);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);
        builder.Logging.ClearProviders();
        if (logging is null)
        {
            // stdout carries data (the first API key); every log line goes to stderr. The API key handler is
            // framework machinery under Liftoff's name: a refused request is the client's answer, not the server's news.
            builder.Logging
                .AddSimpleConsole(c => c.SingleLine = true)
                .AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace)
                .AddFilter("Microsoft", LogLevel.Warning)
                .AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error)
                .AddFilter(typeof(ApiKeyAuthenticationHandler).FullName, LogLevel.Warning);
        }
        else
        {
            logging(builder.Logging);
        }

        var database = DatabaseLocation.Parse(options.Database, options.DataDirectory);
        builder.Services.AddLiftoffServer(options);
        _ = database switch
        {
            PostgresDatabaseLocation postgres => builder.Services.UsePostgresStore(postgres.ConnectionString),
            SqliteDatabaseLocation sqlite => builder.Services.UseSqliteStore(sqlite.Path),
            _ => throw new InvalidOperationException($"no store for {database}"),
        };
        var app = builder.Build();
        await (database is PostgresDatabaseLocation
            ? Migrations.ApplyAsync(app.Services.GetRequiredService<PostgresDatabase>(), cancellationToken)
            : Migrations.ApplyAsync(app.Services.GetRequiredService<SqliteDatabase>(), cancellationToken));
        var initialKey = await EnsureAdminAsync(app.Services, options.AdminName, cancellationToken);
        app.MapLiftoff();
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First(a => options.MetricsPort is not { } metricsPort || new Uri(a).Port != metricsPort);
        return new LiftoffServer(app, new Uri(address), database, initialKey);
    }

    /// <summary>A fresh key for the admin, for <c>liftoff up</c> when the user's config holds no working key.</summary>
    public async Task<string> CreateAdminKeyAsync(string name, CancellationToken cancellationToken)
    {
        var identities = Services.GetRequiredService<IIdentityStore>();
        var admin = await identities.FindAdminAsync(cancellationToken) ?? throw new InvalidOperationException("the server has no admin entity");
        var (key, secret) = ApiKeys.Create(name, Services.GetRequiredService<TimeProvider>().GetUtcNow());
        await identities.AddKeyAsync(admin.Id, key, cancellationToken);
        return secret;
    }

    public async Task<bool> IsActiveKeyAsync(string secret, CancellationToken cancellationToken) =>
        await Services.GetRequiredService<IIdentityStore>().FindKeyAsync(ApiKeys.Hash(secret), cancellationToken) is not null;

    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    private static async Task<string?> EnsureAdminAsync(IServiceProvider services, string name, CancellationToken cancellationToken)
    {
        var identities = services.GetRequiredService<IIdentityStore>();
        if (await identities.FindAdminAsync(cancellationToken) is not null)
        {
            return null;
        }

        var (key, secret) = ApiKeys.Create("default", services.GetRequiredService<TimeProvider>().GetUtcNow());
        try
        {
            await identities.CreateEntityAsync(name, admin: true, key, cancellationToken);
        }
        catch (DuplicateException)
        {
            // Another replica starting on the same database created the admin first; its start shows the key.
            return await identities.FindAdminAsync(cancellationToken) is not null ? null : throw new InvalidOperationException(
                $"the admin name '{name}' is taken by a user who is not an admin; start with another --admin");
        }

        return secret;
    }
}

internal static class ServerRegistration
{
    public static IServiceCollection AddLiftoffServer(this IServiceCollection services, ServerOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(options.TimeProvider);
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<RunSignals>();
        services.AddSingleton<ApiKeyCache>();
        services.AddBlobStore(options);
        services.AddSingleton(new Lazy<PythonWheel>(PythonWheel.Build));
        services.AddHostedService<RunReaper>();
        if (options.LogArchiveBytes > 0)
        {
            services.AddHostedService<ConsoleArchiver>();
        }

        services.AddSingleton<QueueSignals>();
        services.AddSingleton<JobVersions>();
        services.AddSingleton<LaunchPlanner>();
        services.AddSecretVault(options);
        services.AddTargets();
        services.AddHostedService<QueueReaper>();
        services.ConfigureHttpJsonOptions(json =>
        {
            LiftoffJson.Apply(json.SerializerOptions);
            json.SerializerOptions.TypeInfoResolver = json.SerializerOptions.TypeInfoResolver!.WithAddedModifier(NullElements.Refuse);
        });
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ApiErrors.Describe);
        services.AddExceptionHandler<ApiErrors>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.BasicSchemeName, o => o.AcceptBasic = true);
        services.AddAuthorization();
        services.AddSingleton<RunKeyScope>();
        services.AddSingleton<AgentKeyScope>();
        services.AddSingleton<EntityAccessCache>();
        services.AddSingleton<AuditLog>();
        if (options.AuditRetention > TimeSpan.Zero)
        {
            services.AddHostedService<AuditSweeper>();
        }

        services.AddOpenApi();
        return services;
    }

    /// <summary>The filesystem store, or an S3 bucket that clients also reach directly (an <see cref="IDirectBlobStore"/>).</summary>
    public static IServiceCollection AddBlobStore(this IServiceCollection services, ServerOptions options)
    {
        switch (BlobLocation.Parse(options.Blobs, options.DataDirectory))
        {
            case S3BlobLocation s3:
                // Made by the container, so that stopping the server disposes the S3 client.
                services.AddSingleton<IBlobStore>(_ => new S3BlobStore(s3, options.S3AccessKeyId, options.S3SecretAccessKey));
                break;
            case FileSystemBlobLocation files:
                services.AddSingleton<IBlobStore>(new FileSystemBlobStore(files.Directory));
                break;
        }

        return services;
    }

    public static IServiceCollection UseSqliteStore(this IServiceCollection services, string path)
    {
        services.AddSingleton(sp => new SqliteDatabase(path) { Metrics = sp.GetService<ServerMetrics>() });
        return services.AddRelationalStore<SqliteDatabase>();
    }

    /// <summary>
    /// PostgreSQL, for several replicas on one database: the store, and the listener that wakes this replica's waiting
    /// claims when any replica enqueues.
    /// </summary>
    public static IServiceCollection UsePostgresStore(this IServiceCollection services, string connectionString)
    {
        // Made by the container, so that stopping the server disposes it and closes its pooled connections.
        services.AddSingleton(sp => new PostgresDatabase(connectionString) { Metrics = sp.GetService<ServerMetrics>() });
        services.AddRelationalStore<PostgresDatabase>();
        services.AddSingleton<PostgresQueueListener>();
        services.AddHostedService(sp => sp.GetRequiredService<PostgresQueueListener>());
        return services;
    }

    /// <summary>The store on the registered <typeparamref name="TDatabase"/>, behind each of its capabilities.</summary>
    private static IServiceCollection AddRelationalStore<TDatabase>(this IServiceCollection services)
        where TDatabase : RelationalDatabase
    {
        services.AddSingleton(sp => new RelationalStore(sp.GetRequiredService<TDatabase>()));
        services.AddSingleton<IIdentityStore>(sp => sp.GetRequiredService<RelationalStore>());
        services.AddSingleton<IRunStore>(sp => sp.GetRequiredService<RelationalStore>());
        services.AddSingleton<IQueueStore>(sp => sp.GetRequiredService<RelationalStore>());
        services.AddSingleton<IArtifactStore>(sp => sp.GetRequiredService<RelationalStore>());
        services.AddSingleton<IAuditStore>(sp => sp.GetRequiredService<RelationalStore>());
        return services;
    }

    public static WebApplication MapLiftoff(this WebApplication app)
    {
        app.UseAuditLog();
        app.UseServerMetrics();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseCsrfProtection();
        app.UseAuthorization();
        app.UseRunKeyBoundary();
        app.UseEntityAccess();
        app.UseAgentKeyBoundary();
        app.UseUnkeepableInputCheck();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapGet("/healthz", () => TypedResults.Ok("ok")).ExcludeFromDescription();
        app.MapMetricsApi();
        app.MapIdentityApi();
        app.MapTeamsApi();
        app.MapServiceAccountsApi();
        app.MapSecretsApi();
        app.MapProjectsApi();
        app.MapRunsApi();
        app.MapQueuesApi();
        app.MapItemsApi();
        app.MapAgentsApi();
        app.MapBlobsApi();
        app.MapArtifactsApi();
        app.MapJobsApi();
        app.MapSdkApi();
        app.MapWandbApi();
        app.MapSessionApi();
        app.MapAuditApi();
        app.MapWebApp();
        return app;
    }
}
