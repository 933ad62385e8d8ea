using System.Diagnostics;
using System.Globalization;
using System.Text;
namespace Liftoff.Testing;

/// <summary>
/// The real <c>liftoff agent</c> program (Liftoff.Cli.dll beside the test assembly) as a child process with a HOME of
/// its own, its output collected so its pipes never fill.
/// </summary>
public sealed class AgentProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly TempDirectory _home;

    private AgentProcess(Process process, TempDirectory home)
    {
        Process = process;
        _home = home;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static AgentProcess Start(Uri baseUrl, string key, params string[] args) => Start(baseUrl, key, new Dictionary<string, string?>(), args);

    /// <summary>Starts the agent with <paramref name="environment"/> added to what it needs to reach the server.</summary>
    public static AgentProcess Start(Uri baseUrl, string key, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var home = new TempDirectory();
        var dll = Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll");
        var process = ProcessRunner.Start("dotnet", [dll, "agent", .. args], new Dictionary<string, string?>(environment)
        {
            ["HOME"] = home.Path,
            ["XDG_CACHE_HOME"] = null,
            ["LIFTOFF_BASE_URL"] = baseUrl.ToString(),
            ["LIFTOFF_API_KEY"] = key,
            ["NO_COLOR"] = "1",
        });
        return new AgentProcess(process, home);
    }

    public void Signal(string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", Process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await Process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the agent did not exit within {timeout.TotalSeconds} s; its output:\n{Output}");
        }

        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
        _home.Dispose();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
