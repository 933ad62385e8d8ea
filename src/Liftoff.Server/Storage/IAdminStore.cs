using Liftoff.Contracts;

namespace Liftoff.Server.Storage;

/// <summary>What the server admin reads about the store as a whole.</summary>
internal interface IAdminStore
{
    /// <summary>Bytes stored, by project (history, console, artifacts) and in total.</summary>
    Task<UsageReport> ReadUsageAsync(CancellationToken cancellationToken);
}
