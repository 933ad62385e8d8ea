using System.Collections.Concurrent;

namespace Liftoff.Targets;

/// <summary>
/// How an agent runs: what it polls, how much it runs at once, where it keeps its caches and how it stops. Bound from
/// the command line of <c>liftoff agent</c> and its YAML config file (<see cref="AgentConfigFile"/>).
/// </summary>
internal sealed class AgentOptions
{
    /// <summary>The name operators see in <c>liftoff agent list</c>.</summary>
    public string Name { get; set; } = System.Environment.MachineName;

    public List<string> Queues { get; set; } = [];

    /// <summary>How many items run at once.</summary>
    public int MaxJobs { get; set; } = 1;

    /// <summary>On a graceful stop, wait for running work instead of stopping it and handing the items back.</summary>
    public bool Drain { get; set; }

    /// <summary>Per-item work directories and the caches (code, virtual environments, the Python SDK) live here.</summary>
    public string WorkDirectory { get; set; } = DefaultWorkDirectory();

    /// <summary>How long one claim request waits on the server for an item (the long poll; the server caps it at 60 s).</summary>
    public TimeSpan ClaimWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest interval between item heartbeats. The agent heartbeats more often when the server's lease is short
    /// (a third of the lease), so the lease is renewed at least twice before it runs out.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Between the polite stop signal (SIGTERM) and the forced one (SIGKILL).</summary>
    public TimeSpan StopGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The interpreter local-process jobs run with when their queue's resource config names none.</summary>
    public string Python { get; set; } = "python3";

    /// <summary>
    /// Clone git jobs whose remote is on this machine (a path, <c>file://</c>). Off by default: a job is written by any
    /// queue member, and such a remote would copy this host's repositories into the run or a built image. Meant for a
    /// single-user machine, where the agent's host and the job's author are the same person.
    /// </summary>
    public bool AllowLocalGitRemotes { get; set; }

    /// <summary>Settings for targets that build images (docker, kubernetes, sagemaker, vertex); validated, unused by local-process.</summary>
    public BuilderSettings? Builder { get; set; }

    /// <summary>Where built images are pushed; validated, unused by local-process.</summary>
    public RegistrySettings? Registry { get; set; }

    /// <summary>The cloud environment the agent itself runs in; validated, unused by local-process.</summary>
    public EnvironmentSettings? Environment { get; set; }

    /// <summary>The targets' sections of the agent config (<see cref="TargetDefinition.AgentConfig"/>), by settings type.</summary>
    private readonly ConcurrentDictionary<Type, object> _targets = new();

    /// <summary>A target's section of the agent config, e.g. <c>Target&lt;KubernetesSettings&gt;()</c>; its defaults when none was given.</summary>
    public T Target<T>() where T : class, new() => (T)_targets.GetOrAdd(typeof(T), _ => new T());

    /// <summary>Sets a target's section (the agent config file's, or a test's).</summary>
    public void SetTarget(object settings) => _targets[settings.GetType()] = settings;

    private static string DefaultWorkDirectory()
    {
        var cacheHome = System.Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cacheHome))
        {
            cacheHome = Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache");
        }

        return Path.Combine(cacheHome, "liftoff", "agent");
    }
}

/// <summary>How images are built: <c>docker</c> (the local engine), <c>kaniko</c> (in-cluster) or <c>noop</c> (use the job's image as is).</summary>
internal sealed class BuilderSettings
{
    public static readonly IReadOnlyList<string> Types = ["docker", "kaniko", "noop"];

    public string? Type { get; set; }

    /// <summary>A registry path used as the layer cache (<c>--cache-repo</c> for kaniko, <c>--cache-from</c> for docker).</summary>
    public string? Cache { get; set; }

    /// <summary>The image platform, e.g. <c>linux/amd64</c>.</summary>
    public string? Platform { get; set; }

    /// <summary>The image generated Dockerfiles start from when neither the job nor the queue names one.</summary>
    public string? BaseImage { get; set; }
}

/// <summary>The registry built images are pushed to and pulled from.</summary>
internal sealed class RegistrySettings
{
    public static readonly IReadOnlyList<string> Types = ["generic", "ecr", "gcr", "acr"];

    public string? Type { get; set; }

    /// <summary>The repository, e.g. <c>ghcr.io/acme/jobs</c>.</summary>
    public string? Uri { get; set; }

    /// <summary>The name of an environment variable holding the registry password; the secret itself never sits in the file.</summary>
    public string? PasswordEnv { get; set; }

    public string? Username { get; set; }
}

/// <summary>Where the agent runs, for targets that need cloud credentials.</summary>
internal sealed class EnvironmentSettings
{
    public static readonly IReadOnlyList<string> Types = ["local", "aws", "gcp", "azure"];

    public string? Type { get; set; }

    public string? Region { get; set; }

    /// <summary>The AWS profile, GCP project or Azure subscription to use.</summary>
    public string? Account { get; set; }

    /// <summary>The SageMaker API endpoint, instead of <c>https://api.sagemaker.{region}.amazonaws.com</c> (a VPC endpoint, or a stand-in).</summary>
    public string? SagemakerEndpoint { get; set; }

    /// <summary>The CloudWatch Logs endpoint, instead of <c>https://logs.{region}.amazonaws.com</c>.</summary>
    public string? LogsEndpoint { get; set; }

    /// <summary>The Vertex AI endpoint, instead of <c>https://{region}-aiplatform.googleapis.com</c>.</summary>
    public string? VertexEndpoint { get; set; }

    /// <summary>The Cloud Logging endpoint, instead of <c>https://logging.googleapis.com</c>.</summary>
    public string? LoggingEndpoint { get; set; }

    /// <summary>A Google service-account key file; without it, application default credentials.</summary>
    public string? CredentialsFile { get; set; }

    /// <summary>How often a cloud job's status and logs are read.</summary>
    public double? PollSeconds { get; set; }

    public TimeSpan PollInterval => TimeSpan.FromSeconds(PollSeconds ?? 10);
}
