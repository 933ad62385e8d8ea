using Liftoff.Contracts;

namespace Liftoff.Core.Runs;

/// <summary>
/// The run state machine of DESIGN.md §4: pending → running → finished | failed | killed | crashed.
/// Every transition is a pure function of the current record; the store applies it atomically.
/// </summary>
public static class RunLifecycle
{
    public static bool IsTerminal(string state) =>
        state is RunStates.Finished or RunStates.Failed or RunStates.Killed;

    /// <summary>A launched (pending) run attached to by the SDK's init.</summary>
    public static RunRecord Attach(RunRecord run, string configJson, RunRecord init, DateTimeOffset now)
    {
        if (run.State != RunStates.Pending)
        {
            throw new RunConflictException($"run {run.Id} already exists and is {run.State}; only a pending (launched) run can be attached to by init");
        }

        return run with
        {
            State = RunStates.Running,
            ConfigJson = configJson,
            Host = init.Host,
            Os = init.Os,
            Program = init.Program,
            PythonVersion = init.PythonVersion,
            StartedAt = now,
            HeartbeatAt = now,
        };
    }

    /// <summary>Any sign of life: a heartbeat, history or console lines.</summary>
    public static RunRecord Alive(RunRecord run, DateTimeOffset now)
    {
        EnsureWritable(run);
        return run with
        {
            State = run.State == RunStates.Crashed ? RunStates.Running : run.State,
            HeartbeatAt = now,
        };
    }

    public static RunRecord Finish(RunRecord run, int exitCode, DateTimeOffset now)
    {
        var state = run.StopRequested ? RunStates.Killed : exitCode == 0 ? RunStates.Finished : RunStates.Failed;
        if (run.IsTerminal)
        {
            if (run.State == state && run.ExitCode == exitCode)
            {
                return run;
            }

            throw new RunConflictException($"run {run.Id} already ended as {run.State} with exit code {run.ExitCode}");
        }

        return run with { State = state, ExitCode = exitCode, EndedAt = now, HeartbeatAt = now };
    }

    /// <summary>
    /// Console lines arrived. Unlike metrics they are accepted in every state: a launched run's console is captured by its
    /// agent, which sees output before the job calls init, after the SDK finishes the run, and from jobs that never call
    /// init (DESIGN.md §3 keeps that output). Only a live run counts them as a sign of life.
    /// </summary>
    public static RunRecord ConsoleWritten(RunRecord run, DateTimeOffset now) =>
        run.State is RunStates.Running or RunStates.Crashed ? Alive(run, now) : run;

    public static RunRecord RequestStop(RunRecord run, DateTimeOffset now) => run.State switch
    {
        RunStates.Pending => run with { State = RunStates.Killed, StopRequested = true, EndedAt = now },
        _ when run.IsTerminal => run,
        _ => run with { StopRequested = true },
    };

    public static void EnsureWritable(RunRecord run)
    {
        if (run.IsTerminal)
        {
            throw new RunConflictException($"run {run.Id} has ended ({run.State}); it takes no more data");
        }

        if (run.State == RunStates.Pending)
        {
            throw new RunConflictException($"run {run.Id} is pending; call init first");
        }
    }
}

/// <summary>A request that the run's current state does not allow (HTTP 409).</summary>
public sealed class RunConflictException(string message) : Exception(message);
