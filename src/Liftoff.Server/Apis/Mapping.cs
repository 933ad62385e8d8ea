using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Json;
using Liftoff.Core.Launch;
using Liftoff.Core.Runs;
using Liftoff.Server.Storage;

namespace Liftoff.Server.Apis;

internal static class Mapping
{
    public static RunInfo ToInfo(RunRecord run) => ToInfo(run, null);

    /// <summary>A run with the launch item that started it, when it was launched from a queue.</summary>
    public static RunInfo ToInfo(RunRecord run, ItemRecord? launchedBy) => new(
        run.Id, run.Entity, run.Project, run.Name, run.State, Json(run.ConfigJson), Json(run.SummaryJson),
        run.Host, run.Os, run.Program, run.PythonVersion, run.ExitCode, run.CreatedAt, run.StartedAt, run.EndedAt,
        run.HeartbeatAt, run.StopRequested, run.LastStep, run.LogLines, launchedBy?.Job, launchedBy?.Queue, launchedBy?.Id);

    public static ItemInfo ToInfo(ItemRecord item) => new(
        item.Id, item.Queue, item.Entity, item.State, Priorities.All[item.Priority], item.Attempt, item.MaxAttempts, item.Job, item.Project,
        item.RunId, Json(item.ConfigJson), Json(item.ResourceArgsJson),
        JsonSerializer.Deserialize(JsonText.Readable(item.TemplateValuesJson), LiftoffJsonContext.Default.IReadOnlyDictionaryStringString)!.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value, LiftoffJsonContext.Default.String)),
        item.EntrypointJson is { } e ? JsonSerializer.Deserialize(JsonText.Readable(e), LiftoffJsonContext.Default.IReadOnlyListString) : null,
        item.Phase, item.Error, item.AgentId, item.CreatedAt, item.ClaimedAt, item.EndedAt, item.LeaseExpiresAt, item.CancelRequested, item.WaitingReason,
        item.FailureClass, item.ClaimableAt, RetryPolicies.Parse(item.RetryPolicyJson), item.MaxRunSeconds);

    /// <summary>The agent as callers see it at <paramref name="now"/>: offline once silent too long (<see cref="AgentLiveness"/>).</summary>
    public static AgentInfo ToInfo(AgentRecord agent, DateTimeOffset now, TimeSpan itemLease) => new(
        agent.Id, agent.Name, agent.Entity, agent.Queues, agent.Version, agent.Host, agent.MaxJobs,
        AgentLiveness.State(agent.State, agent.HeartbeatAt, now, AgentLiveness.HeartbeatInterval(itemLease)), agent.RunningItems,
        agent.RegisteredAt, agent.HeartbeatAt, agent.StopRequested);

    /// <summary>Stored JSON as an answer's value; a stored row that cannot be rendered as it is shows its bad part replaced (see <see cref="JsonText.Readable"/>).</summary>
    public static JsonElement Json(string json) => JsonText.ReadableElement(json);
}
