using Liftoff.Server.Apis;
using Liftoff.Server.Auth;
using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Liftoff.Server.Metrics;

/// <summary>
/// <c>GET /metrics</c> in the Prometheus text format. On the API port it answers the server admin's key only (the
/// metrics name every entity's queues); with <see cref="ServerOptions.MetricsPort"/> it answers there to anyone who can
/// reach that port, and that port serves nothing else.
/// </summary>
internal static class MetricsApi
{
    public const string Path = "/metrics";

    /// <summary>First in the pipeline: HTTP metrics for every route, and the metrics port kept to <see cref="Path"/>.</summary>
    public static WebApplication UseServerMetrics(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<ServerOptions>();
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        metrics.ReadGaugesFrom(app.Services.GetRequiredService<IQueueStore>(), options);
        if (options.MetricsPort is { } port)
        {
            app.Use(async (context, next) =>
            {
                if ((context.Connection.LocalPort == port) != context.Request.Path.Equals(Path, StringComparison.Ordinal))
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return;
                }

                await next(context);
            });
        }

        app.UseHttpMetrics(o => o.SetMetricFactory(metrics.Factory));
        return app;
    }

    public static WebApplication MapMetricsApi(this WebApplication app)
    {
        var endpoint = app.MapGet(Path, Scrape).ExcludeFromDescription().CallersOwn();
        _ = app.Services.GetRequiredService<ServerOptions>().MetricsPort is null ? endpoint.RequireAuthorization() : endpoint.AllowAnonymous();
        return app;
    }

    private static async Task<IResult> Scrape(HttpContext http, ServerMetrics metrics, ServerOptions options, CancellationToken cancellationToken)
    {
        if (options.MetricsPort is null && !Caller.From(http.User).Admin)
        {
            return Problems.Forbidden("only the server admin's key reads /metrics on the API port; to scrape without a key, serve them on a port of their own (--metrics-port)");
        }

        http.Response.ContentType = PrometheusConstants.TextContentTypeWithVersionAndEncoding;
        await metrics.Registry.CollectAndExportAsTextAsync(http.Response.Body, cancellationToken);
        return Results.Empty;
    }
}
