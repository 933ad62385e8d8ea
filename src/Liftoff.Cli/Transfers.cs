using Liftoff.Client;
using Spectre.Console;

namespace Liftoff.Cli;

/// <summary>Upload and download progress bars, on stderr so that stdout keeps only data.</summary>
internal static class Transfers
{
    /// <summary>Runs <paramref name="work"/> showing its progress; <paramref name="observe"/> sees every report too.</summary>
    public static async Task<T> WithProgressAsync<T>(Func<IProgress<TransferProgress>, Task<T>> work, Action<TransferProgress>? observe = null)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (!console.Profile.Capabilities.Interactive)
        {
            return await work(new Reporter(report => observe?.Invoke(report)));
        }

        return await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                var gate = new Lock();
                var progress = new Reporter(report =>
                {
                    lock (gate)
                    {
                        observe?.Invoke(report);
                        if (!tasks.TryGetValue(report.Phase, out var task))
                        {
                            tasks[report.Phase] = task = context.AddTask(report.Phase, maxValue: Math.Max(1, report.BytesTotal));
                        }

                        task.MaxValue = Math.Max(1, report.BytesTotal);
                        task.Value = report.BytesTotal == 0 ? 1 : report.BytesDone;
                        task.Description = $"{report.Phase} {report.FilesDone}/{report.FilesTotal} files";
                    }
                });
                return await work(progress);
            });
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and could show stale values last).</summary>
    private sealed class Reporter(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
