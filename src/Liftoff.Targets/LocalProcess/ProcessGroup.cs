using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// A workload process in a session and process group of its own, so that stopping it reaches everything it started:
/// <c>setsid</c> makes the group, a small <c>sh</c> wrapper leads it. The wrapper
/// <list type="bullet">
/// <item>runs the entrypoint in the background and waits for it, ignoring SIGTERM/SIGINT itself so it outlives the
/// entrypoint and reports the entrypoint's exit status;</item>
/// <item>watches a pipe from the agent (its stdin) and kills the whole group when the pipe closes: when the agent dies,
/// even by SIGKILL, its workloads die with it instead of running on unsupervised.</item>
/// </list>
/// </summary>
internal sealed partial class ProcessGroup : ILaunchedWorkload
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int NoSuchProcess = 3;

    private const string Wrapper = """
        exec 3<&0 </dev/null
        "$@" 3<&- &
        child=$!
        trap '' INT TERM
        { read -r _ <&3; kill -KILL 0; } &
        watcher=$!
        exec 3<&-
        wait "$child"
        code=$?
        kill -KILL "$watcher" 2>/dev/null
        exit "$code"
        """;

    private readonly Process _process;
    private readonly Task _output;
    private readonly TimeProvider _time;

    /// <summary>Liftoff itself signalled the group (a stop); any other signal came from outside.</summary>
    private volatile bool _stopping;

    private ProcessGroup(Process process, Task output, TimeProvider time)
    {
        _process = process;
        _output = output;
        _time = time;
    }

    public int Id => _process.Id;

    /// <summary>Starts <paramref name="command"/> with exactly <paramref name="environment"/>, each output line going to <paramref name="console"/>.</summary>
    public static ProcessGroup Start(IReadOnlyList<string> command, string workingDirectory, IReadOnlyDictionary<string, string> environment, RunConsole console, TimeProvider time)
    {
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in (string[])["sh", "-c", Wrapper, "liftoff-job", .. command])
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Clear();
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new LaunchException(Contracts.ItemPhases.Submit, "the workload process did not start");
        }
        catch (Win32Exception ex)
        {
            throw new LaunchException(Contracts.ItemPhases.Submit, $"could not start the workload through setsid and sh (util-linux and a POSIX shell are required): {ex.Message}", ex);
        }

        var output = Task.WhenAll(
            PumpAsync(process.StandardOutput, "stdout", console),
            PumpAsync(process.StandardError, "stderr", console));
        return new ProcessGroup(process, output, time);
    }

    public async Task<WorkloadExit> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        // Whatever the entrypoint left behind (a daemonised child, a data loader) ends with it.
        Signal(SigKill);
        // The pipes close once every process holding them is gone; bounded, in case one escaped into another group.
        await Task.WhenAny(_output, Task.Delay(TimeSpan.FromSeconds(5), _time, cancellationToken));
        var code = _process.ExitCode;
        // The wrapper exits 128 + N when a signal N ended the job. Not Liftoff's signal, while the agent lives: the
        // machine took it (an OOM killer, an operator, a shutdown), not the job's own failure.
        return code is > 128 and <= 128 + 64 && !_stopping
            ? new WorkloadExit(code, $"ended by signal {code - 128} from outside Liftoff", FailureClass: Contracts.FailureClasses.Infrastructure)
            : new WorkloadExit(code);
    }

    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        _stopping = true;
        if (grace > TimeSpan.Zero && Signal(SigTerm))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(grace);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The grace period is over: force it.
            }
        }

        Signal(SigKill);
        await _process.WaitForExitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Signal(SigKill);
        if (!_process.HasExited)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Unkillable (uninterruptible I/O): the watcher ends the group once the pipe below closes.
            }
        }

        _process.Dispose();
    }

    /// <summary>Signals the whole group; false once it is empty.</summary>
    private bool Signal(int signal) => Kill(-_process.Id, signal) == 0 || Marshal.GetLastPInvokeError() != NoSuchProcess;

    private static async Task PumpAsync(StreamReader reader, string stream, RunConsole console)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            await console.WriteAsync(stream, line, CancellationToken.None);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
