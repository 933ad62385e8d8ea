using System.Security.Cryptography;
using System.Text;
using Liftoff.Server.Storage;

namespace Liftoff.Server.Auth;

/// <summary>API keys: random, shown once, stored as a SHA-256 digest (the secret has 206 bits, so no slow hash is needed).</summary>
internal static class ApiKeys
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>A prefix, a dash and 40 lowercase letters/digits: the shape wandb clients accept too.</summary>
    public const string Prefix = "local-";

    public static (NewKey Key, string Secret) Create(string name, DateTimeOffset now, IReadOnlyList<string>? agentQueues = null)
    {
        var secret = Prefix + RandomNumberGenerator.GetString(Alphabet, 40);
        var id = "key_" + RandomNumberGenerator.GetString(Alphabet, 12);
        return (new NewKey(id, name, Hash(secret), now, AgentQueues: agentQueues), secret);
    }

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
