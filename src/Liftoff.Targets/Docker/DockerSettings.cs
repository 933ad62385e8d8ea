namespace Liftoff.Targets.Docker;

/// <summary>
/// The Docker engine: <c>host</c> is its address (<c>unix:///var/run/docker.sock</c>, <c>tcp://host:2375</c>; default
/// <c>DOCKER_HOST</c>, then the local socket); <c>network</c> is the network containers join unless the queue's resource
/// config names one.
/// </summary>
internal sealed class DockerSettings
{
    public string? Host { get; set; }

    public string Network { get; set; } = "host";

    public IEnumerable<string> Validate()
    {
        if (Host is { } host && !(Uri.TryCreate(host, UriKind.Absolute, out var uri) && uri.Scheme is "unix" or "tcp" or "http" or "https"))
        {
            yield return $"docker.host: an engine address such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375, not '{host}'";
        }

        if (string.IsNullOrWhiteSpace(Network))
        {
            yield return "docker.network: the network containers join, e.g. host, bridge or none";
        }
    }
}
