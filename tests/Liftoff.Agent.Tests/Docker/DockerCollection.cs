using Liftoff.Testing;
using Xunit;

namespace Liftoff.Agent.Tests.Docker;

/// <summary>
/// Every test class that uses the Docker engine shares one <see cref="DockerEngineFixture"/>: its clean-up removes the
/// images the tests built and pushed, which must not happen while another class still runs them.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerEngineFixture>
{
    public const string Name = "docker";
}
