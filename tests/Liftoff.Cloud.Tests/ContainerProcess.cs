using System.Diagnostics;
using System.Globalization;
using Liftoff.Testing;

namespace Liftoff.Cloud.Tests;

/// <summary>
/// What a stand-in runs in place of a training container: the container's command as a local process with the job's
/// environment, the Python SDK importable as it would be in the image, each output line handed to the service's logs.
/// </summary>
internal sealed class ContainerProcess
{
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ContainerProcess(Process process) => _process = process;

    public Task<int> Exited => _exited.Task;

    public static ContainerProcess Start(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, Action<string> line)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Clear();
        info.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        info.Environment["HOME"] = Path.GetTempPath();
        info.Environment["PYTHONPATH"] = Repo.PythonSdk;
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var container = new ContainerProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { line(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { line(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // Exits once the process has and its output is read to the end, so the last lines are logged before the end.
        _ = Task.Run(async () =>
        {
            await process.WaitForExitAsync();
            container._exited.TrySetResult(process.ExitCode);
        });
        return container;
    }

    /// <summary>SIGTERM, as a container runtime stops a container; the stand-ins follow it with a kill if it lingers.</summary>
    public void Terminate()
    {
        try
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // It has exited already.
        }
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has exited already.
        }
    }
}
