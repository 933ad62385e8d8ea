using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Xunit;

namespace Liftoff.Testing;

/// <summary>
/// The Docker engine, base image and registry that <c>scripts/setup/docker.sh</c> starts: the engine at
/// <c>DOCKER_HOST</c> or the script's own socket. Fails (never skips) with the reason when any of them is missing.
/// </summary>
public sealed class DockerEngineFixture : IAsyncLifetime
{
    /// <summary>The socket the setup script's own dockerd listens on when no other engine answers.</summary>
    public const string OwnEngine = "unix:///run/liftoff-docker/docker.sock";

    /// <summary>The debootstrapped Debian with python3 the setup script imports (no image registry is reachable here).</summary>
    public const string BaseImage = "liftoff-test/python:bookworm";

    /// <summary>The setup script's registry on loopback, with htpasswd auth.</summary>
    public const string Registry = "127.0.0.1:5055";

    public const string RegistryUser = "liftoff";

    public const string RegistryPassword = "liftoff-registry-test";

    /// <summary>The base image with the repository's Python SDK on PYTHONPATH: what a prebuilt image job looks like.</summary>
    public const string JobImage = "liftoff-test/job:sdk";

    private const string Setup = "run scripts/setup/docker.sh (as root) first";

    private DockerClient? _client;

    public string Host { get; } = Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : OwnEngine;

    public DockerClient Client => _client ?? throw new InvalidOperationException("the Docker fixture has not started");

    public async Task InitializeAsync()
    {
        _client = new DockerClientBuilder().WithEndpoint(new Uri(Host)).Build();
        try
        {
            await Client.System.PingAsync();
        }
        catch (Exception ex) when (ex is HttpRequestException or DockerApiException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new InvalidOperationException($"no Docker engine answers at {Host} ({ex.Message}): {Setup}", ex);
        }

        try
        {
            await Client.Images.InspectImageAsync(BaseImage);
        }
        catch (DockerApiException ex)
        {
            throw new InvalidOperationException($"the engine at {Host} has no base image {BaseImage} ({ex.Message}): {Setup}", ex);
        }

        await BuildJobImageAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            using var reply = await http.GetAsync(new Uri($"http://{Registry}/v2/"));
            if (reply.StatusCode != System.Net.HttpStatusCode.Unauthorized)
            {
                throw new InvalidOperationException($"the registry at {Registry} answered {(int)reply.StatusCode}, not 401 (it must ask for credentials): {Setup}");
            }
        }
        catch (HttpRequestException ex)
        {
            throw new InvalidOperationException($"no registry answers at {Registry} ({ex.Message}): {Setup}", ex);
        }
    }

    /// <summary>
    /// What the registry answers for <paramref name="reference"/>'s manifest (REGISTRY/REPOSITORY:TAG), asked with the
    /// test credentials as a cluster pulling it would: the status and, when found, its digest.
    /// </summary>
    public static async Task<(HttpStatusCode Status, string? Digest)> RegistryManifestAsync(string reference)
    {
        var slash = reference.IndexOf('/', StringComparison.Ordinal);
        var colon = reference.LastIndexOf(':');
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Head, $"http://{reference[..slash]}/v2/{reference[(slash + 1)..colon]}/manifests/{reference[(colon + 1)..]}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{RegistryUser}:{RegistryPassword}")));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.docker.distribution.manifest.v2+json"));
        using var reply = await http.SendAsync(request);
        return (reply.StatusCode, reply.Headers.TryGetValues("Docker-Content-Digest", out var digests) ? digests.Single() : null);
    }

    /// <summary>The containers labelled <paramref name="label"/>=<paramref name="value"/>, running or not.</summary>
    public async Task<IList<ContainerListResponse>> ContainersAsync(string label, string value) =>
        await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{label}={value}"] = true } },
        });

    /// <summary>Builds <see cref="JobImage"/> (a second's work: the engine's layer cache keeps it between runs).</summary>
    private async Task BuildJobImageAsync()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Liftoff.slnx")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("cannot find the repository root (Liftoff.slnx) above " + AppContext.BaseDirectory);
        }

        using var context = new TempDirectory();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "sdk", "python", "liftoff"), "*.py"))
        {
            File.Copy(file, Path.Combine(Directory.CreateDirectory(Path.Combine(context.Path, "liftoff")).FullName, Path.GetFileName(file)));
        }

        context.File("Dockerfile", $"FROM {BaseImage}\nCOPY liftoff /opt/sdk/liftoff\nENV PYTHONPATH=/opt/sdk PYTHONUNBUFFERED=1\n");
        await using var tar = new MemoryStream();
        await System.Formats.Tar.TarFile.CreateFromDirectoryAsync(context.Path, tar, includeBaseDirectory: false);
        tar.Position = 0;
        var errors = new List<string>();
        await Client.Images.BuildImageFromDockerfileAsync(new ImageBuildParameters { Tags = [JobImage], NetworkMode = "none", Remove = true }, tar, [], new Dictionary<string, string>(),
            new ErrorCollector(errors));
        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"could not build {JobImage}: {string.Join("; ", errors)}");
        }
    }

    /// <summary>Removes the images the tests made (built jobs, registry tags), so the engine's cache does not grow run after run.</summary>
    public async Task DisposeAsync()
    {
        if (_client is null)
        {
            return;
        }

        foreach (var image in await _client.Images.ListImagesAsync(new ImagesListParameters { All = false }))
        {
            foreach (var tag in (image.RepoTags ?? []).Where(t => t.StartsWith("liftoff-job/", StringComparison.Ordinal) || t.StartsWith(Registry + "/", StringComparison.Ordinal)))
            {
                try
                {
                    await _client.Images.DeleteImageAsync(tag, new ImageDeleteParameters());
                }
                catch (DockerApiException)
                {
                    // In use by a container another test left for inspection, or removed meanwhile: keep going.
                }
            }
        }

        _client.Dispose();
    }
}

/// <summary>The engine's error messages from a build or push (the client reports them, it does not throw).</summary>
public sealed class ErrorCollector(List<string> errors) : IProgress<JSONMessage>
{
    public void Report(JSONMessage value)
    {
        if (value.Error?.Message is { } error)
        {
            errors.Add(error);
        }
    }
}
