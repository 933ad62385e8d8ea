using System.Text.Json;

namespace Liftoff.Contracts;

public static class RunStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Finished = "finished";
    public const string Failed = "failed";
    public const string Killed = "killed";
    public const string Crashed = "crashed";
}

public sealed record InitRunRequest(
    string? Project,
    string? Entity = null,
    string? Id = null,
    string? Name = null,
    JsonElement? Config = null,
    string? Host = null,
    string? Os = null,
    string? Program = null,
    string? PythonVersion = null);

/// <summary>A run; <see cref="Job"/>, <see cref="Queue"/> and <see cref="ItemId"/> name the launch that started it, if any.</summary>
public sealed record RunInfo(
    string Id,
    string Entity,
    string Project,
    string Name,
    string State,
    JsonElement Config,
    JsonElement Summary,
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
    string? Job = null,
    string? Queue = null,
    string? ItemId = null);

/// <summary><see cref="Total"/> is the number of matching runs, when the list was asked to count them.</summary>
public sealed record RunList(IReadOnlyList<RunInfo> Runs, string? NextCursor, long? Total = null);

public sealed record PatchRunRequest(string? Name = null, JsonElement? Config = null, JsonElement? Summary = null);

/// <summary>One history row; <see cref="Time"/> is Unix epoch seconds.</summary>
public sealed record HistoryRow(long Step, JsonElement Values, double? Time = null);

public sealed record HistoryBatch(IReadOnlyList<HistoryRow>? Rows);

public sealed record HistoryAccepted(int Accepted, long? LastStep);

public sealed record HistoryPage(IReadOnlyList<HistoryRow> Rows, long? NextAfterStep);

/// <summary>One console line; <see cref="Time"/> is Unix epoch seconds.</summary>
public sealed record LogLine(string Stream, string Text, double? Time = null);

public sealed record LogBatch(long Offset, IReadOnlyList<LogLine>? Lines);

public sealed record LogsAccepted(long NextOffset);

public sealed record NumberedLogLine(long Line, string Stream, string Text, double Time);

public sealed record HeartbeatReply(string State, bool StopRequested);

public sealed record FinishRunRequest(int ExitCode);

public sealed record ProjectInfo(string Entity, string Name, DateTimeOffset CreatedAt, long RunCount);

public sealed record ProjectList(IReadOnlyList<ProjectInfo> Projects);
