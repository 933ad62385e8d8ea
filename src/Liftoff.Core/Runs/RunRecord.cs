using Liftoff.Contracts;

namespace Liftoff.Core.Runs;

/// <summary>
/// A run as the store keeps it. Config and summary are JSON object texts.
/// <see cref="CrashOnSilence"/> is false for runs whose client may go quiet while alive (wandb clients that send no
/// heartbeats): the crash reaper leaves them alone. <see cref="WandbJson"/> is the wandb client's own <c>_wandb</c>
/// config section (its telemetry and settings), kept apart from the user's config and handed back on resume;
/// null for runs no wandb client reported.
/// </summary>
public sealed record RunRecord(
    string Id,
    string Entity,
    string Project,
    string Name,
    string State,
    string ConfigJson,
    string SummaryJson,
    string? Host,
    string? Os,
    string? Program,
    string? PythonVersion,
    int? ExitCode,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    DateTimeOffset? HeartbeatAt,
    bool StopRequested,
    long? LastStep,
    long LogLines,
    bool CrashOnSilence = true,
    string? WandbJson = null)
{
    public bool IsTerminal => RunLifecycle.IsTerminal(State);
}
