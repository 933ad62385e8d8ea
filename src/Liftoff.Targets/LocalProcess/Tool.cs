using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Liftoff.Targets.LocalProcess;

/// <summary>A preparation step's program (git, python -m venv, pip): run to completion, its output kept or streamed to the run's console.</summary>
internal static class Tool
{
    public sealed record Result(int ExitCode, string Output)
    {
        /// <summary>The last lines of the output, for a failure message.</summary>
        public string Tail(int lines = 12) => string.Join('\n', Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines));
    }

    /// <summary>
    /// Runs <paramref name="file"/>; its output goes to <paramref name="console"/> when given (build logs belong with the
    /// run) and is returned. Cancelling kills it. A program that cannot be started is a <see cref="LaunchException"/> in <paramref name="phase"/>.
    /// </summary>
    public static async Task<Result> RunAsync(string phase, string file, IEnumerable<string> args, string? workingDirectory, RunConsole? console, CancellationToken cancellationToken, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        // The agent's key and the launch's settings are the agent's own business, never a build tool's.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("LIFTOFF_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new LaunchException(phase, $"{file} did not start");
        }
        catch (Win32Exception ex)
        {
            throw new LaunchException(phase, $"cannot run {file}: {ex.Message}", ex);
        }

        using (process)
        {
            process.StandardInput.Close();
            var output = new StringBuilder();
            var pumps = Task.WhenAll(Pump(process.StandardOutput, "stdout"), Pump(process.StandardError, "stderr"));
            try
            {
                await process.WaitForExitAsync(cancellationToken);
                await pumps;
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }

            return new Result(process.ExitCode, output.ToString());

            async Task Pump(StreamReader reader, string stream)
            {
                while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
                {
                    lock (output)
                    {
                        if (output.Length < 1 << 20)
                        {
                            output.Append(line).Append('\n');
                        }
                    }

                    if (console is not null)
                    {
                        await console.WriteAsync(stream, line, CancellationToken.None);
                    }
                }
            }
        }
    }
}
