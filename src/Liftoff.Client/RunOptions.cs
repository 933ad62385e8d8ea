using System.Text.Json.Nodes;

namespace Liftoff.Client;

/// <summary>What <see cref="Run.InitAsync"/> starts. Unset values come from the launch environment or defaults.</summary>
public sealed record RunOptions
{
    /// <summary>The project; default <c>LIFTOFF_PROJECT</c>, else "uncategorized".</summary>
    public string? Project { get; init; }

    /// <summary>The entity (a user or a team the key's user belongs to); default <c>LIFTOFF_ENTITY</c>, else the settings', else the key's user's default entity.</summary>
    public string? Entity { get; init; }

    /// <summary>A display name; generated when absent.</summary>
    public string? Name { get; init; }

    /// <summary>A run id to use or (for a launched run, from <c>LIFTOFF_RUN_ID</c>) to attach to.</summary>
    public string? Id { get; init; }

    /// <summary>The run config. A launch's <c>LIFTOFF_CONFIG</c> values win over these.</summary>
    public JsonObject? Config { get; init; }

    /// <summary>Server and key; default <see cref="LiftoffSettings.Resolve"/>.</summary>
    public LiftoffSettings? Settings { get; init; }

    /// <summary>Copy Console.Out and Console.Error into the run's console log (default true unless LIFTOFF_CONSOLE=off).</summary>
    public bool? CaptureConsole { get; init; }

    /// <summary>How often the run tells the server it is alive; default LIFTOFF_HEARTBEAT_SECONDS, else 10 s.</summary>
    public TimeSpan? HeartbeatInterval { get; init; }
}
