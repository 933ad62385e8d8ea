using System.Collections.Concurrent;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Prometheus;

namespace Liftoff.Server.Metrics;

/// <summary>
/// What <c>GET /metrics</c> exports, in one registry per server (tests run many servers in one process, and none may
/// count another's work). Counters and histograms are fed as the work happens: the store reports each item that
/// changed state and how long each of its operations took, so every path (the API, the reapers, the wandb routes) is
/// counted once. The queue and agent gauges are read from the store just before each scrape, so they are exact at
/// that moment and cost nothing between scrapes. Names and units follow the Prometheus conventions (base units,
/// <c>_total</c> for counters).
/// </summary>
public sealed class ServerMetrics
{
    /// <summary>From a millisecond to about 36 minutes, doubling: claims, dispatches and waits in a queue all fit.</summary>
    private static readonly double[] Durations = Histogram.ExponentialBuckets(0.001, 2, 22);

    /// <summary>Store operations: from 50 µs to about 3 s.</summary>
    private static readonly double[] Operations = Histogram.ExponentialBuckets(0.00005, 2, 17);

    private readonly Counter _itemsStarted;
    private readonly Counter _itemsEnded;
    private readonly Counter _itemsRequeued;
    private readonly Histogram _wait;
    private readonly Histogram _dispatch;
    private readonly Counter _runsStarted;
    private readonly Counter _historyRows;
    private readonly Histogram _storeOperations;
    private readonly ConcurrentDictionary<string, Histogram.Child> _operationChildren = new(StringComparer.Ordinal);
    private readonly Counter _consoleArchives;
    private readonly Gauge _pending;
    private readonly Gauge _oldestPending;
    private readonly Gauge _running;
    private readonly Gauge _agents;

    public ServerMetrics()
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        Factory = factory;
        string[] queue = ["entity", "queue"];
        _itemsStarted = factory.CreateCounter("liftoff_items_started_total", "Items whose workload started running (an attempt reported running).", queue);
        _itemsEnded = factory.CreateCounter("liftoff_items_ended_total", "Items that ended, by final state (finished, failed, cancelled) and the failure class of the last attempt (none when it did not fail).", [.. queue, "state", "failure_class"]);
        _itemsRequeued = factory.CreateCounter("liftoff_items_requeued_total", "Attempts that ended with the item pending again: retried by failure class, or none when a stopping agent handed the item back.", [.. queue, "failure_class"]);
        _wait = factory.CreateHistogram("liftoff_item_wait_seconds", "Time from enqueue to claim.", queue, new HistogramConfiguration { Buckets = Durations });
        _dispatch = factory.CreateHistogram("liftoff_item_dispatch_seconds", "Time from claim to the workload running.", queue, new HistogramConfiguration { Buckets = Durations });
        _runsStarted = factory.CreateCounter("liftoff_runs_started_total", "Runs that began running (an SDK or wandb client's init).");
        _historyRows = factory.CreateCounter("liftoff_history_rows_ingested_total", "History rows accepted from runs.");
        _storeOperations = factory.CreateHistogram("liftoff_store_operation_duration_seconds", "Duration of store operations (one transaction or read each), by operation.", ["operation"], new HistogramConfiguration { Buckets = Operations });
        _consoleArchives = factory.CreateCounter("liftoff_console_archives_total", "Consoles of ended runs moved to a blob by the archive sweeper, by outcome.", ["outcome"]);
        _pending = factory.CreateGauge("liftoff_queue_pending_items", "Items waiting to be claimed, by priority (critical, high, medium, low).", [.. queue, "priority"]);
        _oldestPending = factory.CreateGauge("liftoff_queue_oldest_pending_age_seconds", "Age of the oldest pending item; 0 when none is pending.", queue);
        _running = factory.CreateGauge("liftoff_queue_running_items", "Items claimed and not yet ended (leased, starting or running).", queue);
        _agents = factory.CreateGauge("liftoff_agents", "Agents by state as shown to users (offline: silent for three heartbeat intervals); stopped agents are not counted.", ["state"]);
    }

    /// <summary>This server's metrics, and the HTTP metrics that <see cref="Factory"/> creates.</summary>
    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public IMetricFactory Factory { get; }

    /// <summary>Reads the gauges from the store before every scrape.</summary>
    internal void ReadGaugesFrom(IQueueStore queues, ServerOptions options)
    {
        Registry.AddBeforeCollectCallback(async cancellationToken =>
            Set(await queues.SampleQueuesAsync(cancellationToken), options.TimeProvider.GetUtcNow(), AgentLiveness.HeartbeatInterval(options.ItemLease)));
    }

    internal void Operation(string name, TimeSpan elapsed) =>
        _operationChildren.GetOrAdd(name, n => _storeOperations.WithLabels(n.EndsWith("Async", StringComparison.Ordinal) ? n[..^5] : n)).Observe(elapsed.TotalSeconds);

    /// <summary>An item's change of state, committed: counts what the change means.</summary>
    internal void ItemChanged(ItemRecord before, ItemRecord after)
    {
        if (before.State == after.State && before.Attempt == after.Attempt)
        {
            return;
        }

        string[] queue = [after.Entity, after.Queue];
        if (before.State == ItemStates.Pending && after.ClaimedAt is { } claimed)
        {
            _wait.WithLabels(queue).Observe(Math.Max(0, (claimed - after.CreatedAt).TotalSeconds));
        }

        if (before.State != ItemStates.Running && after.State == ItemStates.Running)
        {
            _itemsStarted.WithLabels(queue).Inc();
            if (after is { ClaimedAt: { } from, StartedAt: { } to })
            {
                _dispatch.WithLabels(queue).Observe(Math.Max(0, (to - from).TotalSeconds));
            }
        }

        if (!before.IsTerminal && after.IsTerminal)
        {
            _itemsEnded.WithLabels([.. queue, after.State, after.FailureClass ?? "none"]).Inc();
        }
        else if (before.State != ItemStates.Pending && after.State == ItemStates.Pending)
        {
            _itemsRequeued.WithLabels([.. queue, after.FailureClass ?? "none"]).Inc();
        }
    }

    internal void RunChanged(RunRecord? before, RunRecord after)
    {
        if (before?.State != RunStates.Running && after.State == RunStates.Running)
        {
            _runsStarted.Inc();
        }
    }

    internal void HistoryIngested(int rows) => _historyRows.Inc(rows);

    internal void ConsoleArchived(bool archived) => _consoleArchives.WithLabels(archived ? "archived" : "failed").Inc();

    private void Set(QueueSample sample, DateTimeOffset now, TimeSpan heartbeatInterval)
    {
        Replace(_pending, sample.Pending.Select(p => ((string[])[p.Entity, p.Queue, Priorities.All[p.Priority]], (double)p.Count)));
        var oldest = sample.Pending.GroupBy(p => (p.Entity, p.Queue)).ToDictionary(g => g.Key, g => g.Min(p => p.Oldest));
        Replace(_oldestPending, sample.Queues.Select(q => ((string[])[q.Entity, q.Queue], oldest.TryGetValue((q.Entity, q.Queue), out var at) ? Math.Max(0, (now - at).TotalSeconds) : 0)));
        Replace(_running, sample.Queues.Select(q => ((string[])[q.Entity, q.Queue], (double)q.Held)));
        Replace(_agents, sample.Agents
            .GroupBy(a => AgentLiveness.State(a.State, a.HeartbeatAt, now, heartbeatInterval))
            .Select(g => ((string[])[g.Key], (double)g.Count())));
    }

    /// <summary>Sets every series of <paramref name="gauge"/> to <paramref name="values"/>, removing those no longer there (a deleted queue, an emptied priority).</summary>
    private static void Replace(Gauge gauge, IEnumerable<(string[] Labels, double Value)> values)
    {
        var keep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (labels, value) in values)
        {
            gauge.WithLabels(labels).Set(value);
            keep.Add(string.Join('\0', labels));
        }

        foreach (var labels in gauge.GetAllLabelValues().ToList())
        {
            if (!keep.Contains(string.Join('\0', labels)))
            {
                gauge.RemoveLabelled(labels);
            }
        }
    }
}
