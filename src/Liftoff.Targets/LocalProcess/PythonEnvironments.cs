using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Liftoff.Contracts;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// Virtual environments for local-process jobs, cached by a hash of the interpreter and the requirements so that the
/// second launch of a job starts at once. A job without requirements still gets one (without pip, which takes
/// milliseconds), so <c>python</c> in its entrypoint means the chosen interpreter on every machine. pip's index
/// settings (<c>PIP_INDEX_URL</c>, <c>PIP_EXTRA_INDEX_URL</c>, pip.conf) come from the agent's own environment.
/// </summary>
internal sealed class PythonEnvironments(CacheRoot root, CacheLock locks, TimeProvider time)
{
    private const string ReadyMarker = ".liftoff-ready";

    private readonly ConcurrentDictionary<string, Lazy<Task<Interpreter>>> _interpreters = new(StringComparer.Ordinal);

    /// <summary>The resolved interpreter: the real executable behind a name or a pyenv shim, and its version.</summary>
    public sealed record Interpreter(string Executable, string Version);

    /// <summary>A ready virtual environment: its directory and its interpreter.</summary>
    public sealed record Environment(string Directory, Interpreter Interpreter)
    {
        public string BinDirectory => Path.Combine(Directory, "bin");
    }

    public async Task<Environment> GetAsync(string python, string? requirements, RunConsole console, CancellationToken cancellationToken)
    {
        var interpreter = await ResolveAsync(python, cancellationToken);
        requirements = string.IsNullOrWhiteSpace(requirements) ? null : requirements.ReplaceLineEndings("\n").Trim() + "\n";
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{interpreter.Executable}\n{interpreter.Version}\n{requirements}")))[..24];
        var directory = Path.Combine(root.Directory, "venvs", key);
        var environment = new Environment(directory, interpreter);
        if (File.Exists(Path.Combine(directory, ReadyMarker)))
        {
            return environment;
        }

        await using var held = await locks.AcquireAsync(directory, time, cancellationToken);
        if (File.Exists(Path.Combine(directory, ReadyMarker)))
        {
            return environment;
        }

        if (Directory.Exists(directory))
        {
            // A build that died half-way: start over.
            Directory.Delete(directory, recursive: true);
        }

        try
        {
            await BuildAsync(environment, requirements, console, cancellationToken);
        }
        catch
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            throw;
        }

        await File.WriteAllTextAsync(Path.Combine(directory, ReadyMarker), "", cancellationToken);
        return environment;
    }

    private async Task BuildAsync(Environment environment, string? requirements, RunConsole console, CancellationToken cancellationToken)
    {
        var interpreter = environment.Interpreter;
        string[] venvArgs = requirements is null ? ["-m", "venv", "--without-pip", environment.Directory] : ["-m", "venv", environment.Directory];
        var venv = await Tool.RunAsync(ItemPhases.Build, interpreter.Executable, venvArgs, null, null, cancellationToken);
        if (venv.ExitCode != 0)
        {
            throw new LaunchException(ItemPhases.Build, $"could not create a virtual environment with {interpreter.Executable} (exit {venv.ExitCode}); on Debian/Ubuntu install python3-venv:\n{venv.Tail()}");
        }

        if (requirements is null)
        {
            return;
        }

        var file = Path.Combine(environment.Directory, "requirements.txt");
        await File.WriteAllTextAsync(file, requirements, cancellationToken);
        await console.WriteAsync("stderr", $"[liftoff agent] installing requirements into {environment.Directory}", cancellationToken);
        var pip = await Tool.RunAsync(
            ItemPhases.Build,
            Path.Combine(environment.BinDirectory, "python"),
            ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", file],
            environment.Directory,
            console,
            cancellationToken);
        if (pip.ExitCode != 0)
        {
            throw new LaunchException(ItemPhases.Build, $"pip install -r requirements.txt failed (exit {pip.ExitCode}); check the requirements and the agent's pip index settings (PIP_INDEX_URL):\n{pip.Tail()}");
        }
    }

    private Task<Interpreter> ResolveAsync(string python, CancellationToken cancellationToken)
    {
        var lazy = _interpreters.GetOrAdd(python, name => new Lazy<Task<Interpreter>>(() => ProbeAsync(name)));
        var task = lazy.Value;
        if (task.IsFaulted)
        {
            // Retry on the next item: the interpreter may have been installed since.
            _interpreters.TryRemove(new KeyValuePair<string, Lazy<Task<Interpreter>>>(python, lazy));
        }

        return task.WaitAsync(cancellationToken);
    }

    private static async Task<Interpreter> ProbeAsync(string python)
    {
        var probe = await Tool.RunAsync(ItemPhases.Build, python, ["-c", "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"], null, null, CancellationToken.None);
        var lines = probe.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (probe.ExitCode != 0 || lines.Length < 2 || !Path.IsPathFullyQualified(lines[0]))
        {
            throw new LaunchException(ItemPhases.Build, $"the Python interpreter '{python}' did not run (exit {probe.ExitCode}); set the queue's resource config python (or the agent's --python) to an installed one:\n{probe.Tail()}");
        }

        return new Interpreter(lines[0], lines[1]);
    }
}
