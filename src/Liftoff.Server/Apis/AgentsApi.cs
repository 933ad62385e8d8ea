using Liftoff.Contracts;
using Liftoff.Core;
using Liftoff.Core.Json;
using Liftoff.Core.Runs;
using Liftoff.Server.Audit;
using Liftoff.Server.Auth;
using Liftoff.Server.Hosting;
using Liftoff.Server.Launch;
using Liftoff.Server.Secrets;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

/// <summary>Agents: registration, heartbeats, operator stop, and the long-poll claim.</summary>
internal static class AgentsApi
{
    private const double MaxWaitSeconds = 60;
    private const int MaxRunIdAttempts = 5;
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    public static IEndpointRouteBuilder MapAgentsApi(this IEndpointRouteBuilder app)
    {
        var agents = app.MapGroup("/api/v1/agents").RequireAuthorization().WithTags("Agents").Needs(EntityRole.Member);
        agents.MapPost("/", Register).AgentKey(AgentKeyAccess.Checked);
        agents.MapGet("/", ListAgents).Needs(EntityRole.Viewer).AgentKey(AgentKeyAccess.Checked);
        agents.MapPost("/{id}/heartbeat", Heartbeat).AgentKey(AgentKeyAccess.Agent);
        agents.MapPost("/{id}/stop", Stop).Needs(EntityRole.Admin).Audited("agent.stop", "{id}");
        agents.MapPost("/{id}/claim", Claim).AgentKey(AgentKeyAccess.Agent);
        return app;
    }

    public static async Task<Results<Created<AgentInfo>, ValidationProblem>> Register(RegisterAgentRequest request, [AsParameters] AgentServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(request.Name is { Length: >= 1 and <= 128 }, "name", "an agent name is 1 to 128 characters");
        errors.Check(request.Queues is { Count: >= 1 }, "queues", "an agent polls at least one queue");
        errors.Check(request.MaxJobs is >= 1 and <= Limits.MaxAgentJobs, "max_jobs", $"max_jobs is 1 to {Limits.MaxAgentJobs}");
        foreach (var (name, i) in (request.Queues ?? []).Select((q, i) => (q, i)))
        {
            if (await services.Queues.GetQueueAsync(services.Acting.EntityId, name, cancellationToken) is null)
            {
                errors.Add($"queues[{i}]", $"queue '{name}' not found; create it with 'liftoff queue create {name} --resource ...'");
            }
        }

        if (errors.Any)
        {
            return errors.Result;
        }

        AgentKeyScope.DemandQueues(services.Caller, request.Queues!);
        var now = services.Time.GetUtcNow();
        var agent = await services.Queues.RegisterAgentAsync(services.Acting.EntityId, new AgentRecord(
            "agent_" + RunIds.NewId() + RunIds.NewId(), services.Acting.Entity, request.Name, request.Queues!, request.Version, request.Host,
            request.MaxJobs, AgentStates.Polling, 0, now, now, false), cancellationToken);
        return TypedResults.Created($"/api/v1/agents/{agent.Id}", Mapping.ToInfo(agent, now, services.Options.ItemLease));
    }

    public static async Task<Ok<AgentList>> ListAgents([AsParameters] AgentServices services, CancellationToken cancellationToken)
    {
        var agents = await services.Queues.ListAgentsAsync(services.Acting.EntityId, cancellationToken);
        var now = services.Time.GetUtcNow();
        return TypedResults.Ok(new AgentList([.. agents.Where(a => AgentKeyScope.Sees(services.Caller, a.Queues)).Select(a => Mapping.ToInfo(a, now, services.Options.ItemLease))]));
    }

    public static async Task<Results<Ok<AgentHeartbeatReply>, ValidationProblem, ProblemHttpResult>> Heartbeat(string id, AgentHeartbeatRequest request, [AsParameters] AgentServices services, CancellationToken cancellationToken)
    {
        var errors = new Validation();
        errors.Check(request.State is AgentStates.Polling or AgentStates.Running or AgentStates.Stopping or AgentStates.Stopped, "state", "state is polling, running, stopping or stopped");
        errors.Check(request.RunningItems is >= 0 and <= Limits.MaxAgentJobs, "running_items", $"running_items is 0 to {Limits.MaxAgentJobs}");
        if (errors.Any)
        {
            return errors.Result;
        }

        var now = services.Time.GetUtcNow();
        var agent = await services.Queues.UpdateAgentAsync(services.Acting.EntityId, id, a => a with { State = request.State, RunningItems = request.RunningItems, HeartbeatAt = now }, cancellationToken);
        return agent is null ? AgentNotFound(id) : TypedResults.Ok(new AgentHeartbeatReply(agent.StopRequested, (int)services.Options.ItemLease.TotalSeconds));
    }

    public static async Task<Results<Ok<AgentInfo>, ProblemHttpResult>> Stop(string id, [AsParameters] AgentServices services, CancellationToken cancellationToken)
    {
        var agent = await services.Queues.UpdateAgentAsync(services.Acting.EntityId, id, a => a with { StopRequested = true }, cancellationToken);
        return agent is null ? AgentNotFound(id) : TypedResults.Ok(Mapping.ToInfo(agent, services.Time.GetUtcNow(), services.Options.ItemLease));
    }

    /// <summary>
    /// Long poll: claims at once when an item is pending, else waits for an enqueue on one of the agent's queues (woken
    /// by <see cref="QueueSignals"/>, re-checking every second for enqueues on other replicas) until the wait ends.
    /// </summary>
    public static async Task<Results<Ok<Claim>, NoContent, ProblemHttpResult, ValidationProblem>> Claim(string id, ClaimRequest request, [AsParameters] AgentServices services, CancellationToken cancellationToken)
    {
        if (!double.IsFinite(request.WaitSeconds) || request.WaitSeconds is < 0 or > MaxWaitSeconds)
        {
            return new Validation().Add("wait_seconds", $"wait_seconds is 0 to {MaxWaitSeconds}").Result;
        }

        var caller = services.Caller;

        var acting = services.Acting;
        if (await services.Queues.GetAgentAsync(acting.EntityId, id, cancellationToken) is not { } agent)
        {
            return AgentNotFound(id);
        }

        if (agent.StopRequested)
        {
            return Problems.AgentStopRequested($"agent {id} was asked to stop claiming");
        }

        var queueIds = new List<long>();
        foreach (var name in agent.Queues)
        {
            if (await services.Queues.GetQueueAsync(acting.EntityId, name, cancellationToken) is { } queue)
            {
                queueIds.Add(queue.Id);
            }
        }

        var deadline = services.Time.GetUtcNow() + TimeSpan.FromSeconds(request.WaitSeconds);
        while (true)
        {
            var change = services.Signals.NextChange(queueIds);
            var now = services.Time.GetUtcNow();
            var claimed = await ClaimOnceAsync(agent, queueIds, now, services, cancellationToken);
            if (claimed is not null)
            {
                return TypedResults.Ok(claimed);
            }

            var left = deadline - now;
            if (left <= TimeSpan.Zero)
            {
                return TypedResults.NoContent();
            }

            await change.WaitAsync(left < Recheck ? left : Recheck, services.Time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// One claim transaction. A run id that collides with an existing run (one a client chose, or a rare random
    /// repeat) rolls it back; the claim is tried again with a fresh id, a few times, inside this request.
    /// </summary>
    private static async Task<Claim?> ClaimOnceAsync(AgentRecord agent, IReadOnlyList<long> queueIds, DateTimeOffset now, AgentServices services, CancellationToken cancellationToken)
    {
        var leaseUntil = now + services.Options.ItemLease;
        for (var attempt = 1; ; attempt++)
        {
            string? secret = null;
            ClaimedItem? claimed;
            try
            {
                claimed = await services.Queues.ClaimAsync(agent, queueIds, now, leaseUntil, (item, queue) =>
                {
                    var run = new RunRecord(services.Options.NewRunId(), item.Entity, item.Project, RunIds.NewName(), RunStates.Pending, item.ConfigJson, JsonObjects.Empty,
                        null, null, null, null, null, now, null, null, null, false, null, 0);
                    var (key, keySecret) = ApiKeys.Create($"run {run.Id}", now);
                    secret = keySecret;
                    return new ClaimedRun(run, key with { RunId = run.Id });
                }, cancellationToken);
            }
            catch (DuplicateException) when (attempt < MaxRunIdAttempts)
            {
                continue;
            }

            if (claimed is null)
            {
                return null;
            }

            // Resolved here and only here: the values travel to the claiming agent in this response and are stored
            // nowhere else. The agent's entity owns the queue (and, today, every item on it).
            var values = await services.Secrets.ResolveAsync(services.Acting.EntityId, LaunchPlanner.ReferencedSecrets(claimed.Item, claimed.Queue), cancellationToken);
            var spec = LaunchPlanner.Spec(claimed.Item, claimed.Queue, claimed.Run.Id, claimed.Run.Name, secret!) with { Secrets = values };
            return new Claim(Mapping.ToInfo(claimed.Item), spec, leaseUntil);
        }
    }

    private static ProblemHttpResult AgentNotFound(string id) => Problems.NotFound($"agent '{id}' not found; register it again");
}

internal sealed class AgentServices
{
    public required IQueueStore Queues { get; init; }

    public required QueueSignals Signals { get; init; }

    public required SecretVault Secrets { get; init; }

    public required ServerOptions Options { get; init; }

    public required TimeProvider Time { get; init; }

    public required HttpContext Http { get; init; }

    public Caller Caller => Caller.From(Http.User);

    public Acting Acting => Acting.Of(Http);
}
