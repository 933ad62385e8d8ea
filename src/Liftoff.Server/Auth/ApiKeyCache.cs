using System.Collections.Concurrent;
using Liftoff.Server.Storage;

namespace Liftoff.Server.Auth;

/// <summary>
/// Keys verified in the last <see cref="Lifetime"/>, so that an agent's or client's burst of requests reads its key
/// from the store once a second rather than once a request. Only full keys are kept: a launched job's run-scoped key
/// is revoked by the store when its item ends, and is always looked up. A key revoked through this server is
/// forgotten at once; one revoked through another replica stops working here within <see cref="Lifetime"/>.
/// </summary>
internal sealed class ApiKeyCache(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);

    /// <summary>Beyond this many keys the cache starts over rather than grow without bound (many distinct keys at once).</summary>
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, (KeyPrincipal Principal, long VerifiedAt)> _verified = new(StringComparer.Ordinal);

    public bool TryGet(string hash, out KeyPrincipal principal)
    {
        if (_verified.TryGetValue(hash, out var entry) && time.GetElapsedTime(entry.VerifiedAt) < Lifetime)
        {
            principal = entry.Principal;
            return true;
        }

        principal = null!;
        return false;
    }

    public void Add(string hash, KeyPrincipal principal)
    {
        if (principal.RunId is not null)
        {
            return;
        }

        if (_verified.Count >= MaxEntries)
        {
            _verified.Clear();
        }

        _verified[hash] = (principal, time.GetTimestamp());
    }

    /// <summary>Forgets every key of entity <paramref name="entityId"/> (what its principal carries changed through this server).</summary>
    public void Forget(long entityId)
    {
        foreach (var (hash, entry) in _verified)
        {
            if (entry.Principal.EntityId == entityId)
            {
                _verified.TryRemove(hash, out _);
            }
        }
    }

    /// <summary>Forgets key <paramref name="keyId"/> of entity <paramref name="entityId"/> (it was revoked through this server).</summary>
    public void Forget(long entityId, string keyId)
    {
        foreach (var (hash, entry) in _verified)
        {
            if (entry.Principal.EntityId == entityId && entry.Principal.KeyId == keyId)
            {
                _verified.TryRemove(hash, out _);
            }
        }
    }
}
