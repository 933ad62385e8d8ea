using System.CommandLine;

namespace Liftoff.Cli.Commands;

/// <summary>What the service-account commands share.</summary>
internal static class ServiceAccountArguments
{
    public static Argument<string> Name() => new("name") { Description = "The service account's name." };

    public static Option<string> Team() => new("--team") { Description = "The team the service account belongs to.", Required = true };
}
