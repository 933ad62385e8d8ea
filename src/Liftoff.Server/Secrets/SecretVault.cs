using System.Security.Cryptography;
using Liftoff.Server.Hosting;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Server.Secrets;

/// <summary>
/// Entities' secrets, encrypted with ASP.NET Core Data Protection before they reach the store: the database holds
/// ciphertext only, and the key ring lives apart from it (<see cref="ServerOptions.SecretKeysDirectory"/>), so a copy of
/// the database alone reveals no value. Values leave only through <see cref="ResolveAsync"/>, for a claim.
/// </summary>
internal sealed class SecretVault(IIdentityStore store, IDataProtectionProvider provider, TimeProvider time, ILogger<SecretVault> logger)
{
    /// <summary>The purpose string isolates these ciphertexts from any other use of the key ring (cookies, tokens).</summary>
    private readonly IDataProtector _protector = provider.CreateProtector("Liftoff.Secrets.v1");

    public Task<SecretRecord> SetAsync(long entityId, string name, string value, CancellationToken cancellationToken) =>
        store.SetSecretAsync(entityId, name, _protector.Protect(value), time.GetUtcNow(), cancellationToken);

    public Task<IReadOnlyList<SecretRecord>> ListAsync(long entityId, CancellationToken cancellationToken) => store.ListSecretsAsync(entityId, cancellationToken);

    public Task<bool> DeleteAsync(long entityId, string name, CancellationToken cancellationToken) => store.DeleteSecretAsync(entityId, name, cancellationToken);

    /// <summary>The names of the entity's secrets.</summary>
    public async Task<IReadOnlySet<string>> NamesAsync(long entityId, CancellationToken cancellationToken) =>
        (await store.ListSecretsAsync(entityId, cancellationToken)).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The values of those of <paramref name="names"/> the entity holds. A ciphertext the key ring cannot open (a replica
    /// with another ring, a lost ring) is left out, as if deleted: the agent then fails the launch naming the secret.
    /// </summary>
    public async Task<Dictionary<string, string>> ResolveAsync(long entityId, IEnumerable<string> names, CancellationToken cancellationToken)
    {
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (wanted.Count == 0)
        {
            return values;
        }

        foreach (var secret in await store.ListSecretsAsync(entityId, cancellationToken))
        {
            if (wanted.Contains(secret.Name))
            {
                try
                {
                    values[secret.Name] = _protector.Unprotect(secret.Ciphertext);
                }
                catch (CryptographicException ex)
                {
                    logger.LogError("Secret {Name} of entity {EntityId} cannot be decrypted with this server's key ring ({Reason}); is --secret-keys shared by every replica?",
                        secret.Name, entityId, ex.Message);
                }
            }
        }

        return values;
    }
}

internal static class SecretVaultRegistration
{
    /// <summary>Data Protection with its key ring in a directory only the server's user may read.</summary>
    public static IServiceCollection AddSecretVault(this IServiceCollection services, ServerOptions options)
    {
        var directory = new DirectoryInfo(options.SecretKeysDirectory ?? Path.Combine(options.DataDirectory, "secret-keys"));
        directory.Create();
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        services.AddDataProtection().SetApplicationName("liftoff").PersistKeysToFileSystem(directory);
        services.AddSingleton<SecretVault>();
        return services;
    }
}
