using System.Diagnostics;
using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Bench.Kit;

/// <summary>Outside programs and waits with a deadline, so that a stuck sample fails the run instead of hanging it.</summary>
public static class Waits
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    /// <summary>Runs <paramref name="program"/> to its end and returns its standard output; a non-zero exit throws with its standard error.</summary>
    public static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}");
        }

        return await output;
    }

    /// <summary>Reads until <paramref name="read"/> gives a value, every <paramref name="interval"/> (20 ms), for at most two minutes.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> read, string what, TimeSpan? interval = null) where T : class
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            if (await read() is { } value)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {Deadline.TotalMinutes:0} minutes waiting for {what}");
            }

            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(20));
        }
    }

    /// <summary>Waits for item <paramref name="id"/> to end; anything but finished throws with its error.</summary>
    public static async Task<ItemInfo> FinishedAsync(LiftoffClient client, string id, TimeSpan? interval = null)
    {
        var ended = await UntilAsync(async () => await client.GetItemAsync(id) is { State: ItemStates.Finished or ItemStates.Failed or ItemStates.Cancelled } done ? done : null, $"item {id} to end", interval);
        return ended.State == ItemStates.Finished ? ended : throw new InvalidOperationException($"item {id} {ended.State}: {ended.Error}");
    }
}
