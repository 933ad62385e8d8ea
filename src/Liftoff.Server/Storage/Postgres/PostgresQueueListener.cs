using System.Globalization;
using Liftoff.Core;
using Liftoff.Server.Launch;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Liftoff.Server.Storage.Postgres;

/// <summary>
/// Carries enqueues from every replica to this one's waiting claims: LISTENs on <see cref="Channel"/> over one
/// dedicated connection and hands each notification for this schema to <see cref="QueueSignals"/>. A lost connection
/// is reopened with capped, jittered backoff; notifications sent meanwhile are missed, which costs a waiting claim at
/// most its one-second re-check of the store.
/// </summary>
internal sealed class PostgresQueueListener(PostgresDatabase database, QueueSignals signals, ILogger<PostgresQueueListener> logger) : BackgroundService
{
    public const string Channel = "liftoff_queue";

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the first LISTEN is in place: from then on, enqueues anywhere wake claims here.</summary>
    public Task Listening => _listening.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Its own connection, outside the pool: it lives as long as the server, and keepalives notice a dead peer
        // (a replica that only waits would otherwise never learn its database went away).
        var settings = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false, KeepAlive = 15, MaxAutoPrepare = 0 };
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(settings.ConnectionString);
                await connection.OpenAsync(stoppingToken);
                string schema;
                await using (var command = new NpgsqlCommand($"LISTEN {Channel}; SELECT current_schema()", connection))
                {
                    schema = (string)(await command.ExecuteScalarAsync(stoppingToken))!;
                }

                connection.Notification += (_, e) => Deliver(schema, e.Payload);
                if (failures > 0)
                {
                    logger.LogInformation("Listening for enqueues again after {Failures} failed attempt(s)", failures);
                }

                failures = 0;
                _listening.TrySetResult();
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                failures++;
                var delay = Backoff.Delay(failures, TimeSpan.FromMilliseconds(100), MaxBackoff);
                logger.LogWarning(ex, "Lost the connection that listens for enqueues on other replicas; reconnecting in {Delay} s (claims re-check every second meanwhile)", delay.TotalSeconds);
                await Task.Delay(delay, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private void Deliver(string schema, string payload)
    {
        var colon = payload.LastIndexOf(':');
        if (colon > 0 && payload.AsSpan(0, colon).SequenceEqual(schema)
            && long.TryParse(payload.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var queueId))
        {
            signals.Notify(queueId);
        }
    }
}
