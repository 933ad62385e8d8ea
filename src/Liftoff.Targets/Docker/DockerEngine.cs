using System.Text;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using Liftoff.Contracts;

namespace Liftoff.Targets.Docker;

/// <summary>
/// The agent's one connection to the Docker engine (the agent config's <c>docker.host</c>, else <c>DOCKER_HOST</c>,
/// else the local socket), shared by the docker runner and builder, and the registry credentials they pull and push with.
/// </summary>
internal sealed class DockerEngine(AgentOptions options) : IDisposable
{
    /// <summary>Label keys every container and built image carries, so a restarted agent finds its own.</summary>
    public const string LabelPrefix = "ai.liftoff.";

    private readonly Lazy<DockerClient> _client = new(() => Connect(options.Target<DockerSettings>().Host));

    public DockerClient Client => _client.Value;

    /// <summary>Where the engine is, for messages.</summary>
    public string Address => options.Target<DockerSettings>().Host ?? Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock";

    /// <summary>
    /// Credentials for the registry that holds <paramref name="reference"/>: the agent config's registry when the image
    /// lives there (its password from <c>password_env</c>), else the Docker CLI's config file (<c>~/.docker/config.json</c>,
    /// <c>auths</c>), else none (an anonymous pull).
    /// </summary>
    public AuthConfig? CredentialsFor(string reference)
    {
        var host = RegistryHost(reference);
        if (options.Registry is { Uri: { } uri } registry && RegistryHost(uri) == host && registry.Username is { } username)
        {
            var password = registry.PasswordEnv is { } env ? Environment.GetEnvironmentVariable(env) : null;
            if (password is null)
            {
                throw new LaunchException(ItemPhases.Pull, $"the agent config's registry.password_env names {registry.PasswordEnv ?? "no variable"}, which is not set in the agent's environment");
            }

            return new AuthConfig { ServerAddress = host, Username = username, Password = password };
        }

        return FromDockerConfig(host);
    }

    /// <summary>The image as the engine has it, or null when it has no such image.</summary>
    public async Task<ImageInspectResponse?> TryInspectImageAsync(string reference, CancellationToken cancellationToken)
    {
        try
        {
            return await Client.Images.InspectImageAsync(reference, cancellationToken);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (HttpRequestException ex)
        {
            throw new LaunchException(ItemPhases.Pull, $"cannot reach the Docker engine at {Address}: {ex.Message}", ex);
        }
    }

    /// <summary>The registry host of an image reference (<c>docker.io</c> when the first part is not a host).</summary>
    public static string RegistryHost(string reference)
    {
        var slash = reference.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return "docker.io";
        }

        var first = reference[..slash];
        return first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost" ? first : "docker.io";
    }

    /// <summary>An engine error as a person reads it: the daemon's own message, not the HTTP wrapper.</summary>
    public static string Reason(DockerApiException ex)
    {
        try
        {
            using var body = JsonDocument.Parse(ex.ResponseBody ?? "");
            if (body.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }
        catch (JsonException)
        {
            // Not a JSON body: the body itself is the clearest message there is.
        }

        return string.IsNullOrWhiteSpace(ex.ResponseBody) ? ex.Message : ex.ResponseBody.Trim();
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }

    private static DockerClient Connect(string? host)
    {
        var builder = new DockerClientBuilder();
        if (host is not null)
        {
            builder = builder.WithEndpoint(new Uri(host));
        }

        return builder.Build();
    }

    private static AuthConfig? FromDockerConfig(string host)
    {
        var directory = Environment.GetEnvironmentVariable("DOCKER_CONFIG")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        var path = Path.Combine(directory, "config.json");
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var config = JsonDocument.Parse(File.ReadAllText(path));
            if (!config.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            foreach (var entry in auths.EnumerateObject())
            {
                var name = entry.Name.Replace("https://", "", StringComparison.Ordinal).Replace("http://", "", StringComparison.Ordinal).Split('/')[0];
                if ((name == host || (host == "docker.io" && name == "index.docker.io")) && entry.Value.TryGetProperty("auth", out var auth) && auth.GetString() is { Length: > 0 } encoded)
                {
                    var pair = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                    var colon = pair.IndexOf(':', StringComparison.Ordinal);
                    return colon < 0 ? null : new AuthConfig { ServerAddress = host, Username = pair[..colon], Password = pair[(colon + 1)..] };
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or IOException)
        {
            throw new LaunchException(ItemPhases.Pull, $"cannot read the Docker config {path}: {ex.Message}", ex);
        }

        return null;
    }
}
