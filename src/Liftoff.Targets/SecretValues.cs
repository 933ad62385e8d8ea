using Liftoff.Contracts;
using Liftoff.Core.Launch;

namespace Liftoff.Targets;

/// <summary>Environment values with their <c>${secret:NAME}</c> references replaced by the values the claim carried.</summary>
internal static class SecretValues
{
    /// <summary><paramref name="value"/> resolved; a reference the claim did not resolve (the secret was deleted after enqueue) fails the launch, naming it.</summary>
    public static string Resolve(string value, LaunchSpec spec, string variable)
    {
        if (!SecretReferences.Contains(value))
        {
            return value;
        }

        var missing = new List<string>();
        var resolved = SecretReferences.Substitute(value, spec.Secrets ?? new Dictionary<string, string>(), missing);
        return missing.Count == 0
            ? resolved
            : throw new LaunchException(ItemPhases.Submit,
                $"environment variable {variable} references the secret {SecretReferences.Reference(missing[0])}, which entity '{spec.Entity}' no longer holds; set it with 'liftoff secret set {missing[0]}'");
    }
}
