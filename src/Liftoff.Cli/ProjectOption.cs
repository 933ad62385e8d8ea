using System.CommandLine;

namespace Liftoff.Cli;

/// <summary>The project an artifact or job command works in.</summary>
internal static class ProjectOption
{
    public static readonly Option<string> Option = new("--project", "-p")
    {
        Description = "The project (default: LIFTOFF_PROJECT, else uncategorized).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("LIFTOFF_PROJECT") is { Length: > 0 } project ? project : "uncategorized",
    };
}
