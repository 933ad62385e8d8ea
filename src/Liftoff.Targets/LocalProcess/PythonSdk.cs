using System.IO.Compression;
using System.Text.RegularExpressions;
using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Targets.LocalProcess;

/// <summary>
/// The Liftoff Python SDK for local-process jobs, as the server serves it (<c>/sdk/python</c>): the wheel is
/// downloaded once per agent process, unpacked into the cache by file name and put first on the job's
/// <c>PYTHONPATH</c>. Taking it from the server rather than from the agent's own files keeps the SDK in step with the
/// server it reports to, and works the same for an agent on another machine.
/// </summary>
internal sealed partial class PythonSdk(CacheRoot cacheRoot, CacheLock locks, TimeProvider time) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(2) };
    private readonly Lock _gate = new();
    private Task<string>? _path;

    /// <summary>A directory to put on <c>PYTHONPATH</c> that holds the <c>liftoff</c> package.</summary>
    public Task<string> GetPathAsync(LiftoffClient client, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_path is null || _path.IsFaulted || _path.IsCanceled)
            {
                _path = FetchAsync(client.Settings.BaseUrl);
            }

            return _path.WaitAsync(cancellationToken);
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<string> FetchAsync(Uri baseUrl)
    {
        var root = new Uri(baseUrl.ToString().TrimEnd('/') + "/sdk/python/");
        string fileName;
        try
        {
            var index = await _http.GetStringAsync(new Uri(root, "simple/liftoff/"));
            fileName = Path.GetFileName(WheelLink().Match(index) is { Success: true } match
                ? match.Groups[1].Value
                : throw new LaunchException(ItemPhases.Pull, $"the server's SDK index ({root}simple/liftoff/) lists no wheel"));
        }
        catch (HttpRequestException ex)
        {
            throw new LaunchException(ItemPhases.Pull, $"could not fetch the Liftoff Python SDK from {root}: {ex.Message}", ex);
        }

        var directory = Path.Combine(cacheRoot.Directory, "sdk", Path.GetFileNameWithoutExtension(fileName));
        if (Directory.Exists(Path.Combine(directory, "liftoff")))
        {
            return directory;
        }

        await using var held = await locks.AcquireAsync(directory, time, CancellationToken.None);
        if (Directory.Exists(Path.Combine(directory, "liftoff")))
        {
            return directory;
        }

        var temp = directory + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            await using (var wheel = await _http.GetStreamAsync(new Uri(root, fileName)))
            {
                await ZipFile.ExtractToDirectoryAsync(wheel, temp);
            }

            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            Directory.Move(temp, directory);
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidDataException)
        {
            throw new LaunchException(ItemPhases.Pull, $"could not download the Liftoff Python SDK wheel {fileName}: {ex.Message}", ex);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }

        return directory;
    }

    [GeneratedRegex("href=\"([^\"#]+\\.whl)")]
    private static partial Regex WheelLink();
}
