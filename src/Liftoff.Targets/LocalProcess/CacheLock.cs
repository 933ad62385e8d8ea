using System.Collections.Concurrent;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// Exclusive use of one cache entry (a virtual environment, a git mirror) while it is built: a semaphore for the
/// items of this agent, and a lock file for other agents sharing the work directory on this machine.
/// </summary>
internal sealed class CacheLock
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _local = new(StringComparer.Ordinal);

    public async Task<IAsyncDisposable> AcquireAsync(string path, TimeProvider time, CancellationToken cancellationToken)
    {
        var semaphore = _local.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await semaphore.WaitAsync(cancellationToken);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var backoff = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(2));
            while (true)
            {
                try
                {
                    // FileShare.None is an exclusive flock(2) on Unix: held until disposed, released if the process dies.
                    var file = new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                    return new Held(file, semaphore);
                }
                catch (IOException)
                {
                    await Task.Delay(backoff.Next(), time, cancellationToken);
                }
            }
        }
        catch
        {
            semaphore.Release();
            throw;
        }
    }

    private sealed class Held(FileStream file, SemaphoreSlim semaphore) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await file.DisposeAsync();
            semaphore.Release();
        }
    }
}
