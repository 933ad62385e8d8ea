using System.Text;
using System.Text.Json;

namespace Liftoff.Core;

/// <summary>
/// The size of every field the API takes, in one place (docs/api.md, "Limits", lists them). A request over one is
/// refused with a 400 naming the field and its size, so nothing is stored that a later step (the agent's submit, a
/// listing, the kernel's exec) could not handle.
/// </summary>
public static class Limits
{
    /// <summary>Entity, project, queue, job, artifact and alias names (see <see cref="Names"/>).</summary>
    public const int Name = 64;

    public const int RunName = 128;

    public const int IdempotencyKey = 200;

    /// <summary>Host, OS, program and Python version a run reports.</summary>
    public const int RunText = 1024;

    /// <summary>A run's config and summary, and a launch's config, as UTF-8 JSON.</summary>
    public const int ConfigBytes = 1 << 20;

    /// <summary>
    /// One environment variable, <c>NAME=value</c> in UTF-8: Linux refuses to exec a process with a longer one
    /// (MAX_ARG_STRLEN, 32 pages), so a larger value would only fail at the agent's submit.
    /// </summary>
    public const int EnvVarBytes = 128 * 1024;

    public const int MaxAgentJobs = 1000;

    /// <summary>The longest max run time a queue or item may set: 30 days.</summary>
    public const int MaxRunSeconds = 30 * 24 * 3600;

    /// <summary>Null when <paramref name="value"/> fits in <paramref name="limit"/> bytes of UTF-8 JSON, else the message naming its size.</summary>
    public static string? TooLarge(JsonElement? value, int limit, string what) =>
        value is { } given && given.GetRawText() is var json && Encoding.UTF8.GetByteCount(json) is var bytes && bytes > limit
            ? $"{what} is {bytes} bytes; the limit is {limit} bytes"
            : null;
}
