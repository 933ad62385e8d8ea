using Liftoff.Contracts;

namespace Liftoff.Core.Runs;

/// <summary>A run as the store keeps it. Config and summary are JSON object texts.</summary>
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
    long LogLines)
{
    public bool IsTerminal => RunLifecycle.IsTerminal(State);
}
