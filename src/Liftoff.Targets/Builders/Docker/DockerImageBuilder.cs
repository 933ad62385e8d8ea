using System.Text.Json;
using System.Threading.Channels;
using Docker.DotNet;
using Docker.DotNet.Models;
using Liftoff.Contracts;
using Liftoff.Core.Launch;
using Liftoff.Targets;
using Liftoff.Targets.Docker;
using Liftoff.Targets.LocalProcess;
using Microsoft.Extensions.Logging;

namespace Liftoff.Targets.Builders.Docker;

/// <summary>
/// Builder <c>docker</c>: builds code and git jobs into images on the agent's Docker engine, tagged with the hash of
/// every build input (<see cref="BuildContext"/>) so an unchanged job is never rebuilt; with <c>push</c>, tags the image
/// into the agent config's registry and pushes it there with its credentials. Image jobs pass through unchanged. Build
/// output goes to the run's console and the agent log.
/// </summary>
internal sealed class DockerImageBuilder(AgentOptions options, DockerEngine engine, CodeFetcher code, PythonSdk sdk, ILogger<DockerImageBuilder> logger) : IImageBuilder
{
    public Task<JobImage> PrepareAsync(LaunchContext context, bool push, CancellationToken cancellationToken) =>
        PrepareAsync(context, push, context.Console.WriteAsync, cancellationToken);

    /// <summary>As <see cref="PrepareAsync(LaunchContext, bool, CancellationToken)"/>, with the build's output going to <paramref name="output"/>.</summary>
    public async Task<JobImage> PrepareAsync(LaunchContext context, bool push, BuildOutput output, CancellationToken cancellationToken)
    {
        var job = context.Job;
        if (job.SourceType == JobSourceTypes.Image)
        {
            return await new NoopImageBuilder().PrepareAsync(context, push, cancellationToken);
        }

        var directory = await code.FetchAsync(context, cancellationToken);
        var sdkDirectory = await sdk.GetPathAsync(context.Client, cancellationToken);
        var baseImage = job.Runtime?.BaseImage
            ?? DockerSchema.Read(context.Spec.ResourceConfig).BaseImage
            ?? options.Builder?.BaseImage
            ?? $"python:{job.Runtime?.PythonVersion ?? "3.12"}-slim";
        var build = BuildContext.Create(job, directory, sdkDirectory, baseImage);
        var name = JobName(context.Spec.Job);
        var local = $"liftoff-job/{name}:{build.Hash[..20]}";
        var built = false;
        if (await engine.TryInspectImageAsync(local, cancellationToken) is null)
        {
            await BuildAsync(build, local, output, cancellationToken);
            built = true;
        }
        else
        {
            logger.LogInformation("Image {Image} is up to date: job {Job} has not changed since it was built", local, context.Spec.Job);
            await output("stderr", $"[liftoff agent] image {local} is up to date; not rebuilding", cancellationToken);
        }

        if (!push)
        {
            return new JobImage(local, null, built);
        }

        var registry = options.Registry?.Uri ?? throw new LaunchException(ItemPhases.Build, "this target pulls images from a registry, and the agent config names none: set registry.uri (and username, password_env)");
        var remote = $"{registry}:{name}-{build.Hash[..20]}";
        var digest = await PushAsync(local, remote, output, cancellationToken);
        return new JobImage(remote, digest, built);
    }

    private async Task BuildAsync(BuildContext build, string tag, BuildOutput write, CancellationToken cancellationToken)
    {
        logger.LogInformation("Building image {Image}", tag);
        await write("stderr", $"[liftoff agent] building image {tag}", cancellationToken);
        await using var tar = new MemoryStream();
        await build.WriteTarAsync(tar, cancellationToken);
        tar.Position = 0;
        var parameters = new ImageBuildParameters
        {
            Tags = [tag],
            Dockerfile = build.DockerfilePath,
            NetworkMode = options.Target<DockerSettings>().Network,
            Remove = true,
            ForceRemove = true,
            Labels = new Dictionary<string, string> { [DockerEngine.LabelPrefix + "build-hash"] = build.Hash },
            Platform = options.Builder?.Platform,
            CacheFrom = options.Builder?.Cache is { } cache ? [cache] : null,
        };
        var output = new EngineProgress(write, logger, "build");
        try
        {
            await engine.Client.Images.BuildImageFromDockerfileAsync(parameters, tar, [], new Dictionary<string, string>(), output, cancellationToken);
        }
        catch (DockerApiException ex)
        {
            output.Fail(DockerEngine.Reason(ex));
        }

        await output.CompleteAsync(cancellationToken);
        if (output.Error is { } error || await engine.TryInspectImageAsync(tag, cancellationToken) is null)
        {
            throw new LaunchException(ItemPhases.Build, $"the image build failed: {output.Error ?? "the engine made no image"}{output.Tail()}");
        }
    }

    private async Task<string?> PushAsync(string local, string remote, BuildOutput write, CancellationToken cancellationToken)
    {
        var colon = remote.LastIndexOf(':');
        var (repository, tag) = (remote[..colon], remote[(colon + 1)..]);
        await engine.Client.Images.TagImageAsync(local, new ImageTagParameters { RepositoryName = repository, Tag = tag }, cancellationToken);
        AuthConfig? auth;
        try
        {
            auth = engine.CredentialsFor(remote);
        }
        catch (LaunchException ex)
        {
            throw new LaunchException(ItemPhases.Build, ex.Message, ex);
        }

        await write("stderr", $"[liftoff agent] pushing {remote}", cancellationToken);
        var output = new EngineProgress(write, logger, "push");
        try
        {
            await engine.Client.Images.PushImageAsync(repository, new ImagePushParameters { Tag = tag }, auth ?? new AuthConfig(), output, cancellationToken);
        }
        catch (DockerApiException ex)
        {
            output.Fail(DockerEngine.Reason(ex));
        }

        await output.CompleteAsync(cancellationToken);
        if (output.Error is { } error)
        {
            var who = auth?.Username is { } user ? $" as {user}" : " without credentials";
            throw new LaunchException(ItemPhases.Build, $"pushing {remote} to {DockerEngine.RegistryHost(remote)}{who} failed: {error}");
        }

        var image = await engine.TryInspectImageAsync(remote, cancellationToken);
        return image?.RepoDigests?.FirstOrDefault(d => d.StartsWith(repository + "@", StringComparison.Ordinal)) is { } repoDigest ? repoDigest[(repoDigest.IndexOf('@', StringComparison.Ordinal) + 1)..] : null;
    }

    /// <summary>A repository-safe form of a job reference's name (lowercase letters, digits, '.', '_', '-').</summary>
    private static string JobName(string reference)
    {
        var name = reference.Split(':')[0].ToLowerInvariant();
        var safe = new string([.. name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-')]).Trim('.', '-', '_');
        return safe.Length == 0 ? "job" : safe;
    }
}
