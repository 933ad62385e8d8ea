using System.Collections.Concurrent;
using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Agent;

/// <summary>
/// The agent's loop, independent of any host: registers, long-polls its queues for items (no sleep between empty
/// polls), runs up to <see cref="AgentOptions.MaxJobs"/> items at once through the runner their queue's resource names,
/// and heartbeats. Shaped like <c>BackgroundService.ExecuteAsync</c>; the CLI (<c>liftoff agent</c>, <c>liftoff up</c>)
/// drives it with the two shutdown tokens.
/// </summary>
internal sealed class AgentWorker(LiftoffClient client, AgentOptions options, IServiceProvider services, TimeProvider time, ILogger<AgentWorker> logger)
{
    private readonly ConcurrentDictionary<ItemExecution, Task> _running = new();
    private readonly TaskCompletionSource<string> _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The resources of the agent's queues, learned when it checks them at start.</summary>
    private readonly HashSet<string> _resources = new(StringComparer.Ordinal);
    private TimeSpan _lease = TimeSpan.FromSeconds(30);
    private volatile bool _claiming = true;
    private volatile bool _handingBack;
    private volatile bool _killing;

    /// <summary>The agent's id once registered (tests and <c>liftoff up</c> wait on it).</summary>
    public Task<string> Registered => _registered.Task;

    public int RunningItems => _running.Count;

    /// <summary>Runs until <paramref name="stoppingToken"/>; running items are then stopped and handed back (see the overload).</summary>
    public Task ExecuteAsync(CancellationToken stoppingToken) => ExecuteAsync(stoppingToken, CancellationToken.None);

    /// <summary>
    /// Two-phase shutdown. <paramref name="stoppingToken"/> stops claiming; then, with <see cref="AgentOptions.Drain"/>,
    /// running items finish, else their workloads are stopped (SIGTERM, grace period, SIGKILL) and the items handed back
    /// to their queues. <paramref name="shutdownToken"/> (the second signal) ends every workload at once. Items are also
    /// handed back when the server asks the agent to stop: then running work is drained first.
    /// </summary>
    public async Task ExecuteAsync(CancellationToken stoppingToken, CancellationToken shutdownToken)
    {
        string agentId;
        try
        {
            agentId = await RegisterAsync(stoppingToken);
        }
        catch (Exception ex)
        {
            _registered.TrySetException(ex);
            throw;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object> { ["AgentId"] = agentId, ["Agent"] = options.Name });
        using var claiming = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var heartbeatStop = new CancellationTokenSource();
        var heartbeat = HeartbeatLoopAsync(agentId, claiming, heartbeatStop.Token);
        await using var abort = shutdownToken.Register(() =>
        {
            _killing = true;
            ForEachRunning(e => e.Kill());
        });
        await using var handBack = stoppingToken.Register(() =>
        {
            if (!options.Drain)
            {
                _handingBack = true;
                ForEachRunning(e => e.HandBack());
            }
        });

        using var slots = new SemaphoreSlim(options.MaxJobs, options.MaxJobs);
        await AdoptLeftoversAsync(slots, claiming.Token);
        await ClaimLoopAsync(agentId, slots, claiming.Token);
        _claiming = false;
        if (_running.Count > 0)
        {
            logger.LogInformation("Stopped claiming; {Count} item(s) still running ({Mode})", _running.Count,
                stoppingToken.IsCancellationRequested && !options.Drain ? "stopping them and handing them back" : "waiting for them to finish");
        }

        await Task.WhenAll(_running.Values);
        await heartbeatStop.CancelAsync();
        await heartbeat;
        await SendFinalHeartbeatAsync(agentId);
        logger.LogInformation("Agent {Agent} stopped", options.Name);
    }

    private async Task<string> RegisterAsync(CancellationToken stoppingToken)
    {
        var backoff = Backoff.Default();
        while (true)
        {
            try
            {
                await CheckQueuesAsync(stoppingToken);
                var agent = await client.RegisterAgentAsync(
                    new RegisterAgentRequest(options.Name, options.Queues, typeof(AgentWorker).Assembly.GetName().Version?.ToString(3), Environment.MachineName, options.MaxJobs),
                    stoppingToken);
                var reply = await client.AgentHeartbeatAsync(agent.Id, new AgentHeartbeatRequest(AgentStates.Polling, 0), stoppingToken);
                _lease = TimeSpan.FromSeconds(Math.Max(1, reply.LeaseSeconds));
                logger.LogInformation("Agent {Agent} registered as {AgentId}, polling {Queues} with up to {MaxJobs} job(s) at once (lease {Lease} s)",
                    options.Name, agent.Id, string.Join(", ", options.Queues), options.MaxJobs, _lease.TotalSeconds);
                _registered.TrySetResult(agent.Id);
                return agent.Id;
            }
            catch (LiftoffException ex) when (ex.StatusCode is { } status && (int)status is >= 400 and < 500 and not 408 and not 429)
            {
                throw;
            }
            catch (LiftoffException ex) when (ex.StatusCode is null && ex.InnerException is null)
            {
                // A refusal of ours (a queue this agent cannot run): retrying would not change it.
                throw;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                var delay = backoff.Next();
                logger.LogWarning("Could not register with the server ({Reason}); retrying in {Delay:0.0} s", ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, time, stoppingToken);
            }
        }
    }

    /// <summary>Refuses to start on a queue that does not exist or whose target this agent cannot run, rather than failing every item.</summary>
    private async Task CheckQueuesAsync(CancellationToken cancellationToken)
    {
        foreach (var name in options.Queues)
        {
            QueueInfo queue;
            try
            {
                queue = await client.GetQueueAsync(name, cancellationToken);
            }
            catch (LiftoffException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                throw new LiftoffException($"queue '{name}' does not exist; create it with: liftoff queue create {name} --resource {Resources.LocalProcess}", HttpStatusCode.NotFound);
            }

            if (services.GetKeyedService<ILaunchRunner>(queue.Resource) is null)
            {
                throw new LiftoffException($"queue '{name}' runs on {queue.Resource}, which this agent cannot run (it runs: {string.Join(", ", services.GetServices<RunnerName>().Select(r => r.Name))})");
            }

            _resources.Add(queue.Resource);
        }
    }

    private async Task ClaimLoopAsync(string agentId, SemaphoreSlim slots, CancellationToken stoppingToken)
    {
        var backoff = Backoff.Default();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await slots.WaitAsync(stoppingToken);
                Claim? claim;
                try
                {
                    claim = await client.ClaimAsync(agentId, options.ClaimWait, stoppingToken);
                }
                catch
                {
                    slots.Release();
                    throw;
                }

                backoff.Reset();
                if (claim is null)
                {
                    slots.Release();
                    continue;
                }

                Start(claim, () => slots.Release());
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (LiftoffException ex) when (ex.ProblemType == ProblemTypes.AgentStopRequested)
            {
                // Only this answer ends claiming: any other refusal (a 409 among them) is retried below.
                logger.LogInformation("The server refused a claim: {Reason}; no more claims", ex.Message);
                break;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                var delay = backoff.Next();
                logger.LogWarning("Claiming failed ({Reason}); retrying in {Delay:0.0} s", ex.Message, delay.TotalSeconds);
                try
                {
                    await Task.Delay(delay, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>
    /// Finds the workloads an earlier run of this agent (same name) left on targets that outlive it, and takes each over
    /// or removes it (<see cref="IReattachableRunner"/>). Each adopted workload takes a free slot when there is one.
    /// </summary>
    private async Task AdoptLeftoversAsync(SemaphoreSlim slots, CancellationToken stoppingToken)
    {
        // Only the targets of this agent's queues: an agent of local-process queues never contacts a cluster.
        foreach (var name in services.GetServices<RunnerName>().Where(r => _resources.Contains(r.Name)))
        {
            if (services.GetKeyedService<ILaunchRunner>(name.Name) is not IReattachableRunner runner)
            {
                continue;
            }

            IReadOnlyList<LeftoverWorkload> leftovers;
            try
            {
                leftovers = await runner.FindLeftoversAsync(options.Name, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("Could not look for workloads left on {Resource} by an earlier run of agent {Agent}: {Reason}", name.Name, options.Name, ex.Message);
                continue;
            }

            foreach (var leftover in leftovers)
            {
                var held = slots.Wait(0, CancellationToken.None);
                Run(ItemExecution.ForLeftover(leftover, (ILaunchRunner)runner, client, options, time, logger, ItemHeartbeatInterval), held ? () => slots.Release() : () => { });
            }
        }
    }

    private void Start(Claim claim, Action release) =>
        Run(ItemExecution.ForClaim(claim, services.GetKeyedService<ILaunchRunner>(claim.Spec.Resource), client, options, time, logger, ItemHeartbeatInterval), release);

    private void Run(ItemExecution execution, Action release)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _running[execution] = started.Task;
        // A claim that came back while the agent began to stop is treated like the others.
        if (_killing)
        {
            execution.Kill();
        }
        else if (_handingBack)
        {
            execution.HandBack();
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await execution.RunAsync();
            }
            catch (OperationCanceledException)
            {
                // The second signal: the workload is gone and nothing more is reported.
            }
            finally
            {
                _running.TryRemove(execution, out _);
                release();
                started.TrySetResult();
            }
        });
    }

    /// <summary>A third of the lease, so it is renewed at least twice before it could run out; never longer than configured.</summary>
    private TimeSpan ItemHeartbeatInterval()
    {
        var third = _lease / 3;
        return third < options.HeartbeatInterval ? third : options.HeartbeatInterval;
    }

    private async Task HeartbeatLoopAsync(string agentId, CancellationTokenSource claiming, CancellationToken stoppingToken)
    {
        var backoff = Backoff.Default();
        var delay = ItemHeartbeatInterval();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, time, stoppingToken);
                var state = !_claiming || claiming.IsCancellationRequested ? AgentStates.Stopping : _running.IsEmpty ? AgentStates.Polling : AgentStates.Running;
                var reply = await client.AgentHeartbeatAsync(agentId, new AgentHeartbeatRequest(state, _running.Count), stoppingToken);
                _lease = TimeSpan.FromSeconds(Math.Max(1, reply.LeaseSeconds));
                backoff.Reset();
                delay = ItemHeartbeatInterval();
                if (reply.StopRequested && !claiming.IsCancellationRequested)
                {
                    logger.LogInformation("The server asked agent {Agent} to stop: no more claims; {Count} running item(s) finish first", options.Name, _running.Count);
                    await claiming.CancelAsync();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                delay = backoff.Next();
                logger.LogWarning("Agent heartbeat failed ({Reason}); retrying in {Delay:0.0} s", ex.Message, delay.TotalSeconds);
            }
        }
    }

    private async Task SendFinalHeartbeatAsync(string agentId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
        try
        {
            await client.AgentHeartbeatAsync(agentId, new AgentHeartbeatRequest(AgentStates.Stopped, 0), timeout.Token);
        }
        catch (Exception ex)
        {
            logger.LogDebug("Could not tell the server the agent stopped: {Reason}", ex.Message);
        }
    }

    private void ForEachRunning(Action<ItemExecution> action)
    {
        foreach (var execution in _running.Keys)
        {
            action(execution);
        }
    }
}
