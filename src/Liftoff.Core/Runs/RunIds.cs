using System.Security.Cryptography;

namespace Liftoff.Core.Runs;

/// <summary>Short, url-safe run ids and friendly generated names, as wandb makes them.</summary>
public static class RunIds
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    private static readonly string[] Adjectives =
    [
        "amber", "bold", "brisk", "calm", "clever", "crisp", "dazzling", "eager", "fluent", "gentle",
        "golden", "happy", "icy", "jolly", "keen", "lively", "lucky", "mellow", "misty", "noble",
        "proud", "quiet", "rapid", "silver", "solar", "stellar", "swift", "vivid", "wise", "young",
    ];

    private static readonly string[] Nouns =
    [
        "aurora", "breeze", "canyon", "comet", "dawn", "delta", "dream", "dune", "ember", "field",
        "forest", "galaxy", "glade", "harbor", "lake", "meadow", "moon", "nebula", "ocean", "orbit",
        "planet", "rain", "river", "sky", "snow", "star", "sun", "thunder", "valley", "wave",
    ];

    public static string NewId() => RandomNumberGenerator.GetString(Alphabet, 8);

    public static string NewName() =>
        $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}-{Nouns[RandomNumberGenerator.GetInt32(Nouns.Length)]}-{RandomNumberGenerator.GetInt32(1, 1000)}";

    /// <summary>Ids a client may choose: what wandb accepts, and safe in a URL path segment.</summary>
    public static bool IsValidId(string id) =>
        id.Length is >= 1 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
