using System.Globalization;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Targets.Builders;
using Microsoft.Extensions.Logging;

namespace Liftoff.Targets.Docker;

/// <summary>
/// The <c>docker</c> target: the item runs in a container on the agent's Docker engine. The image comes from the
/// builder (built for code and git jobs, the job's own for image jobs, pulled when the engine lacks it); the container
/// gets the run's environment, the queue's <c>docker run</c> options (<see cref="DockerSchema"/>) and labels naming its
/// item, attempt, run, queue and agent, by which a restarted agent finds it again.
/// </summary>
internal sealed class DockerRunner(AgentOptions options, DockerEngine engine, IImageBuilder builder, ILogger<DockerRunner> logger) : ILaunchRunner, IReattachableRunner
{
    private const string ItemLabel = DockerEngine.LabelPrefix + "item";
    private const string AttemptLabel = DockerEngine.LabelPrefix + "attempt";
    private const string RunLabel = DockerEngine.LabelPrefix + "run";
    private const string QueueLabel = DockerEngine.LabelPrefix + "queue";
    private const string ResourceLabel = DockerEngine.LabelPrefix + "resource";
    private const string AgentLabel = DockerEngine.LabelPrefix + "agent";
    private const string KeepLabel = DockerEngine.LabelPrefix + "keep";

    public async Task<ILaunchedWorkload> StartAsync(LaunchContext context, CancellationToken cancellationToken)
    {
        var spec = context.Spec;
        var config = DockerSchema.Read(spec.ResourceConfig);
        var image = await builder.PrepareAsync(context, push: false, cancellationToken);
        var digest = await EnsureImageAsync(image, context.Console, cancellationToken);
        await context.Console.WriteAsync("stderr", $"[liftoff agent] running image {image.Reference}{(digest is null ? "" : "@" + digest)}", cancellationToken);

        // Through the Engine API's create call: values never reach a command line (ps) or the agent's log.
        var environment = config.Env.ToDictionary(e => e.Key, e => SecretValues.Resolve(e.Value, spec, e.Key), StringComparer.Ordinal);
        foreach (var (variable, value) in spec.Environment)
        {
            environment[variable] = value;
        }

        var recorded = WithImage(environment.GetValueOrDefault("LIFTOFF_CONFIG"), digest is null ? image.Reference : $"{image.Reference}@{digest}");
        environment["LIFTOFF_CONFIG"] = recorded;
        environment["WANDB_CONFIG"] = recorded;
        environment["LIFTOFF_BASE_URL"] = context.Client.Settings.BaseUrl.ToString().TrimEnd('/');
        environment["WANDB_BASE_URL"] = environment["LIFTOFF_BASE_URL"];
        environment["LIFTOFF_CONSOLE"] = "off";
        environment["PYTHONUNBUFFERED"] = "1";

        var labels = new Dictionary<string, string>(config.Labels, StringComparer.Ordinal)
        {
            [ItemLabel] = spec.ItemId,
            [AttemptLabel] = spec.Attempt.ToString(CultureInfo.InvariantCulture),
            [RunLabel] = spec.RunId,
            [QueueLabel] = spec.Queue,
            [ResourceLabel] = spec.Resource,
            [AgentLabel] = options.Name,
            [KeepLabel] = config.Keep ? "true" : "false",
        };
        var hostConfig = new HostConfig
        {
            NetworkMode = config.Network ?? options.Target<DockerSettings>().Network,
            Privileged = config.Privileged,
            Memory = config.Memory ?? 0,
            NanoCPUs = config.Cpus is { } cpus ? (long)(cpus * 1e9) : 0,
            ShmSize = config.ShmSize ?? 0,
        };
        if (config.Volumes.Count > 0)
        {
            hostConfig.Binds = [.. config.Volumes];
        }

        if (config.ExtraHosts.Count > 0)
        {
            hostConfig.ExtraHosts = [.. config.ExtraHosts];
        }

        if (config.CapAdd.Count > 0)
        {
            hostConfig.CapAdd = [.. config.CapAdd];
        }

        if (config.Gpus is { } gpus)
        {
            hostConfig.DeviceRequests = [new DeviceRequest { Count = gpus, Capabilities = [["gpu"]] }];
        }

        var name = $"liftoff-{spec.ItemId}-{spec.Attempt}";
        var parameters = new CreateContainerParameters
        {
            Name = name,
            Image = image.Reference,
            Env = [.. environment.Select(e => $"{e.Key}={e.Value}")],
            Labels = labels,
            HostConfig = hostConfig,
        };
        if (spec.Entrypoint.Count > 0)
        {
            parameters.Cmd = [.. spec.Entrypoint];
        }

        if (config.User is { } user)
        {
            parameters.User = user;
        }

        string id;
        try
        {
            id = await CreateAsync(name, parameters, cancellationToken);
        }
        catch (DockerApiException ex)
        {
            throw new LaunchException(ItemPhases.Submit, $"the Docker engine refused the container for image {image.Reference}: {DockerEngine.Reason(ex)}", ex);
        }

        try
        {
            await engine.Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken);
        }
        catch (DockerApiException ex)
        {
            await RemoveQuietlyAsync(id);
            var reason = DockerEngine.Reason(ex);
            throw new LaunchException(ItemPhases.Submit, reason.Contains("executable file not found", StringComparison.Ordinal) || reason.Contains("no such file or directory", StringComparison.Ordinal)
                ? $"the entrypoint '{string.Join(' ', spec.Entrypoint)}' was not found in image {image.Reference}: {reason}"
                : $"the container of image {image.Reference} did not start: {reason}", ex);
        }
        catch (OperationCanceledException)
        {
            await RemoveQuietlyAsync(id);
            throw;
        }

        logger.LogInformation("Started container {Container} ({Image}) for item {ItemId}", id[..12], image.Reference, spec.ItemId);
        return new DockerContainer(engine, id, config.Keep, context.Console, since: null, config.Memory, logger);
    }

    public async Task<IReadOnlyList<LeftoverWorkload>> FindLeftoversAsync(string agentName, CancellationToken cancellationToken)
    {
        var containers = await engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{AgentLabel}={agentName}"] = true } },
        }, cancellationToken);
        var leftovers = new List<LeftoverWorkload>();
        foreach (var container in containers)
        {
            var labels = container.Labels;
            if (!labels.TryGetValue(ItemLabel, out var item) || !labels.TryGetValue(AttemptLabel, out var attempt) || !int.TryParse(attempt, CultureInfo.InvariantCulture, out var attemptNumber)
                || !labels.TryGetValue(RunLabel, out var run) || !labels.TryGetValue(QueueLabel, out var queue))
            {
                continue;
            }

            var inspect = await engine.Client.Containers.InspectContainerAsync(container.ID, cancellationToken);
            var environment = (inspect.Config?.Env ?? [])
                .Select(e => e.Split('=', 2))
                .Where(p => p.Length == 2)
                .GroupBy(p => p[0], StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.Ordinal);
            leftovers.Add(new LeftoverWorkload(item, attemptNumber, run, queue, labels.TryGetValue(ResourceLabel, out var resource) ? resource : Liftoff.Contracts.Resources.Docker, container.ID, environment));
        }

        return leftovers;
    }

    public async Task<ILaunchedWorkload> AttachAsync(LeftoverWorkload leftover, RunConsole console, CancellationToken cancellationToken)
    {
        var inspect = await engine.Client.Containers.InspectContainerAsync(leftover.Handle, cancellationToken);
        var keep = inspect.Config?.Labels is { } labels && labels.TryGetValue(KeepLabel, out var value) && value == "true";
        // Output written while no agent watched stays in the engine's log (docker logs); the console goes on from now.
        return new DockerContainer(engine, leftover.Handle, keep, console, since: DateTimeOffset.UtcNow, inspect.HostConfig?.Memory is > 0 and var memory ? memory : null, logger);
    }

    /// <summary>Kills the leftover and removes it, unless its config kept it (then it stays, stopped, for inspection).</summary>
    public async Task RemoveAsync(LeftoverWorkload leftover, CancellationToken cancellationToken)
    {
        try
        {
            var inspect = await engine.Client.Containers.InspectContainerAsync(leftover.Handle, cancellationToken);
            if (inspect.Config?.Labels is { } labels && labels.TryGetValue(KeepLabel, out var keep) && keep == "true")
            {
                if (inspect.State?.Running == true)
                {
                    await engine.Client.Containers.KillContainerAsync(leftover.Handle, new ContainerKillParameters { Signal = "KILL" }, cancellationToken);
                }

                return;
            }

            await engine.Client.Containers.RemoveContainerAsync(leftover.Handle, new ContainerRemoveParameters { Force = true }, cancellationToken);
        }
        catch (DockerContainerNotFoundException)
        {
            // Already gone: nothing to remove.
        }
    }

    /// <summary>Creates the container; a container of the same name is what an agent that died while starting left, and goes first.</summary>
    private async Task<string> CreateAsync(string name, CreateContainerParameters parameters, CancellationToken cancellationToken)
    {
        try
        {
            return (await engine.Client.Containers.CreateContainerAsync(parameters, cancellationToken)).ID;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            await engine.Client.Containers.RemoveContainerAsync(name, new ContainerRemoveParameters { Force = true }, cancellationToken);
            return (await engine.Client.Containers.CreateContainerAsync(parameters, cancellationToken)).ID;
        }
    }

    /// <summary>Pulls an image the engine lacks (or a <c>latest</c> tag, which moves); returns its registry digest when it has one.</summary>
    private async Task<string?> EnsureImageAsync(JobImage image, RunConsole console, CancellationToken cancellationToken)
    {
        var reference = image.Reference;
        var present = await engine.TryInspectImageAsync(reference, cancellationToken);
        var floating = !reference.Contains('@', StringComparison.Ordinal) && (Tag(reference) is null or "latest");
        if (present is null || (floating && !image.Built))
        {
            await PullAsync(reference, console, cancellationToken);
            present = await engine.TryInspectImageAsync(reference, cancellationToken)
                ?? throw new LaunchException(ItemPhases.Pull, $"the engine reported pulling {reference}, yet has no such image");
        }

        var repository = Repository(reference);
        return present.RepoDigests?.Select(d => d.Split('@', 2)).FirstOrDefault(p => p.Length == 2 && (p[0] == repository || p[0].EndsWith("/" + repository, StringComparison.Ordinal)))?[1]
            ?? image.Digest;
    }

    private async Task PullAsync(string reference, RunConsole console, CancellationToken cancellationToken)
    {
        AuthConfig? auth;
        try
        {
            auth = engine.CredentialsFor(reference);
        }
        catch (LaunchException ex)
        {
            throw new LaunchException(ItemPhases.Pull, ex.Message, ex);
        }

        await console.WriteAsync("stderr", $"[liftoff agent] pulling {reference}", cancellationToken);
        var progress = new EngineProgress(console.WriteAsync, logger, "pull");
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        var parameters = at >= 0
            ? new ImagesCreateParameters { FromImage = reference }
            : new ImagesCreateParameters { FromImage = Repository(reference), Tag = Tag(reference) ?? "latest" };
        try
        {
            await engine.Client.Images.CreateImageAsync(parameters, auth ?? new AuthConfig(), progress, cancellationToken);
        }
        catch (DockerApiException ex)
        {
            progress.Fail(DockerEngine.Reason(ex));
        }

        await progress.CompleteAsync(cancellationToken);
        if (progress.Error is { } error)
        {
            var who = auth?.Username is { } user ? $" as {user}" : "";
            throw new LaunchException(ItemPhases.Pull, $"could not pull image {reference} from {DockerEngine.RegistryHost(reference)}{who}: {error}");
        }
    }

    /// <summary>
    /// The launch config with the image the run ran in (<c>_liftoff_image</c>, with its digest when known): a pending run
    /// takes no writes, so the record travels in the config the SDK's <c>init</c> sends, as wandb's <c>_wandb</c> does.
    /// </summary>
    private static string WithImage(string? configJson, string image)
    {
        var config = configJson is { Length: > 0 } && JsonNode.Parse(configJson) is JsonObject parsed ? parsed : [];
        config["_liftoff_image"] = image;
        return config.ToJsonString();
    }

    private async Task RemoveQuietlyAsync(string id)
    {
        try
        {
            await engine.Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
        catch (DockerApiException ex)
        {
            logger.LogWarning("Could not remove container {Container}: {Reason}", id, DockerEngine.Reason(ex));
        }
    }

    private static string Repository(string reference)
    {
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        var name = at >= 0 ? reference[..at] : reference;
        var colon = name.LastIndexOf(':');
        return colon > name.LastIndexOf('/') ? name[..colon] : name;
    }

    private static string? Tag(string reference)
    {
        if (reference.Contains('@', StringComparison.Ordinal))
        {
            return null;
        }

        var colon = reference.LastIndexOf(':');
        return colon > reference.LastIndexOf('/') ? reference[(colon + 1)..] : null;
    }
}
