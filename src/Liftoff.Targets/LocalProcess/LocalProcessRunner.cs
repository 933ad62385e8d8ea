using System.Text.Json;
using Liftoff.Contracts;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// The <c>local-process</c> target: the job runs as a process group on the agent's machine. Fetch the code (pull), make
/// the virtual environment (build), start the entrypoint with the run's environment and the SDK importable (submit).
/// Its resource config is <c>{env: {NAME: value}, python: "python3"}</c>.
/// </summary>
internal sealed class LocalProcessRunner(AgentOptions options, CodeFetcher code, PythonEnvironments environments, PythonSdk sdk, TimeProvider time) : ILaunchRunner
{
    public async Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var spec = context.Spec;
        var resource = spec.ResourceConfig.ValueKind == JsonValueKind.Object ? spec.ResourceConfig : default;
        var python = resource.ValueKind == JsonValueKind.Object && resource.TryGetProperty("python", out var p) && p.ValueKind == JsonValueKind.String
            ? p.GetString()!
            : options.Python;

        var directory = await code.FetchAsync(context, cancellationToken);
        var requirements = context.Job.Runtime?.Requirements;
        var requirementsFile = Path.Combine(directory, "requirements.txt");
        if (string.IsNullOrWhiteSpace(requirements) && File.Exists(requirementsFile))
        {
            requirements = await File.ReadAllTextAsync(requirementsFile, cancellationToken);
        }

        var venv = await environments.GetAsync(python, requirements, context.Console, cancellationToken);
        if (context.Job.Runtime?.PythonVersion is { } wanted && !venv.Interpreter.Version.StartsWith(wanted, StringComparison.Ordinal))
        {
            await context.Console.WriteAsync("stderr", $"[liftoff agent] the job asks for Python {wanted}; running it with {venv.Interpreter.Executable} ({venv.Interpreter.Version}). Set the queue's resource config python to choose another.", cancellationToken);
        }

        var sdkPath = await sdk.GetPathAsync(context.Client, cancellationToken);
        var environment = Environment(context, resource, venv, sdkPath);
        var entrypoint = spec.Entrypoint;
        if (entrypoint.Count == 0)
        {
            throw new LaunchException(ItemPhases.Submit, "the launch has no entrypoint: give the job one, or the launch --entrypoint");
        }

        if (Resolve(entrypoint[0], directory, environment["PATH"]) is null)
        {
            throw new LaunchException(ItemPhases.Submit, $"the entrypoint's program '{entrypoint[0]}' is neither in the job's code nor on PATH ({environment["PATH"]})");
        }

        return ProcessGroup.Start(entrypoint, directory, environment, context.Console, time);
    }

    /// <summary>
    /// The job's environment: the little of the agent's own that <see cref="InheritedEnvironment"/> allows (never its key,
    /// credentials or anything else its operator exported), then the queue's <c>env</c> (with the secrets it references),
    /// then the launch's variables (the run, its config, its run-scoped key).
    /// </summary>
    private static Dictionary<string, string> Environment(LaunchContext context, JsonElement resource, PythonEnvironments.Environment venv, string sdkPath)
    {
        var environment = InheritedEnvironment.FromAgent();

        string? userPythonPath = null;
        if (resource.ValueKind == JsonValueKind.Object && resource.TryGetProperty("env", out var env) && env.ValueKind == JsonValueKind.Object)
        {
            foreach (var variable in env.EnumerateObject())
            {
                var value = variable.Value.ValueKind switch
                {
                    JsonValueKind.String => SecretValues.Resolve(variable.Value.GetString()!, context.Spec, variable.Name),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => variable.Value.GetRawText(),
                };
                if (variable.Name == "PYTHONPATH")
                {
                    userPythonPath = value;
                }
                else
                {
                    environment[variable.Name] = value;
                }
            }
        }

        foreach (var (name, value) in context.Spec.Environment)
        {
            environment[name] = value;
        }

        environment["LIFTOFF_BASE_URL"] = context.Client.Settings.BaseUrl.ToString().TrimEnd('/');
        environment["WANDB_BASE_URL"] = environment["LIFTOFF_BASE_URL"];
        environment["LIFTOFF_CONSOLE"] = "off";
        environment["PYTHONUNBUFFERED"] = "1";
        environment["VIRTUAL_ENV"] = venv.Directory;
        environment["PATH"] = venv.BinDirectory + (environment.TryGetValue("PATH", out var path) && path.Length > 0 ? ":" + path : "");
        environment["PYTHONPATH"] = sdkPath + (string.IsNullOrEmpty(userPythonPath) ? "" : ":" + userPythonPath);
        return environment;
    }

    /// <summary>Where <paramref name="program"/> would be found: a path relative to the code, or a name on PATH.</summary>
    private static string? Resolve(string program, string directory, string path)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            var full = Path.GetFullPath(program, directory);
            return File.Exists(full) ? full : null;
        }

        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
    }
}
