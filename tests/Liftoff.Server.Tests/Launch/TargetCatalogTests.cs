using System.Text.Json.Nodes;
using Liftoff.Core;
using Liftoff.Targets;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

public sealed class TargetCatalogTests
{
    [Fact]
    public void Catalog_WithATargetRegisteredBesideTheBuiltInOnes_AcceptsAndValidatesItAndNamesIt()
    {
        using var services = new ServiceCollection().AddTargets().AddTarget(new StandInTarget()).BuildServiceProvider();
        var catalog = services.GetRequiredService<TargetCatalog>();

        Assert.Equal([.. TargetRegistry.All.Select(t => t.Name), "stand-in"], catalog.Names);
        Assert.EndsWith(": local-process, docker, kubernetes, sagemaker, vertex, slurm, stand-in", catalog.NotATarget("mainframe"), StringComparison.Ordinal);
        Assert.Equal("config.partition", Assert.Single(catalog.Validate("stand-in", new JsonObject { ["partition"] = "gpu" }, "config")).Field);
        Assert.Same(services.GetRequiredKeyedService<TargetDefinition>("stand-in"), catalog.Find("stand-in"));
    }

    /// <summary>A target that is no part of the build, registered the way every target is.</summary>
    private sealed class StandInTarget : TargetDefinition
    {
        public override string Name => "stand-in";

        public override IReadOnlyList<FieldError> Validate(JsonObject config, string field, bool complete) =>
            [.. config.Select(p => new FieldError($"{field}.{p.Key}", "the stand-in takes no settings"))];

        public override void AddRunner(IServiceCollection services, AgentOptions options) =>
            throw new NotSupportedException("the stand-in has no runner");
    }
}
