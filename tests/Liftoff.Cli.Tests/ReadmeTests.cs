using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary>
/// The README as a newcomer follows it. Rules for its "Getting started" section: every line of its <c>bash</c> blocks
/// is a command, run in order by bash from the repository root; <c>./liftoff</c> is the CLI built with these tests;
/// a command marked <c># keeps running</c> is started in the background and stopped at the end (<c>up</c> gets a free
/// port, and the next command waits until it answers); <c>RUN</c> is the run the latest launch made, once it exists.
/// </summary>
public sealed partial class ReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));

    [Fact]
    public async Task GettingStarted_RunTopToBottomAgainstAFreshUp_EveryCommandSucceeds()
    {
        var section = Section("Getting started");
        var commands = BashLines(section);
        Assert.Contains(commands, c => c.Command.StartsWith("./liftoff up", StringComparison.Ordinal) && c.KeepsRunning);
        Assert.Contains("```yaml\n" + await File.ReadAllTextAsync(Path.Combine(Repo.Root, "examples", "hello", "queue.yaml")) + "```", section, StringComparison.Ordinal);

        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var bin = Directory.CreateDirectory(Path.Combine(home.Path, "bin")).FullName;
        var wrapper = Path.Combine(bin, "liftoff");
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec '{Cli.Executable}' \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var env = cli.Environment(("PATH", bin + ":" + Environment.GetEnvironmentVariable("PATH")), ("PYTHONPATH", null));
        var port = LoopbackPort.Free();
        var background = new List<(Process Process, StringBuilder Output)>();
        var outputs = new List<(string Command, ProcessResult Result)>();
        var runsBeforeLaunch = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var (readmeCommand, keepsRunning) in commands)
            {
                var command = readmeCommand.Replace("./liftoff ", "liftoff ", StringComparison.Ordinal);
                if (keepsRunning)
                {
                    var up = command.StartsWith("liftoff up", StringComparison.Ordinal);
                    background.Add(StartInBackground(up ? $"{command} --port {port}" : command, env));
                    if (up)
                    {
                        await Poll.UntilAsync(() => cli.RunAsync("queue", "list"), r => r.ExitCode == 0, TimeSpan.FromSeconds(90), $"'{command}' to answer");
                    }

                    continue;
                }

                if (RunPlaceholder().IsMatch(command))
                {
                    var run = await Poll.UntilAsync(() => RunIdsAsync(cli), ids => ids.Any(id => !runsBeforeLaunch.Contains(id)), TimeSpan.FromSeconds(60), "the launched run to exist");
                    command = RunPlaceholder().Replace(command, run.First(id => !runsBeforeLaunch.Contains(id)));
                }

                if (command.StartsWith("liftoff launch ", StringComparison.Ordinal) && !command.Contains("--dry-run", StringComparison.Ordinal))
                {
                    runsBeforeLaunch = [.. await RunIdsAsync(cli)];
                }

                var result = await ProcessRunner.RunAsync("bash", ["-c", command], env, workingDirectory: Repo.Root, timeout: TimeSpan.FromMinutes(5));
                Assert.True(result.ExitCode == 0, $"README command '{readmeCommand}' failed: {result}\n--- background\n{string.Join("\n", background.Select(b => b.Output))}");
                outputs.Add((readmeCommand, result));
            }

            ProcessResult Output(string prefix) => outputs.Single(o => o.Command.StartsWith(prefix, StringComparison.Ordinal)).Result;
            Assert.Contains("epoch 4: loss", Output("PYTHONPATH=sdk/python python3 examples/hello/train.py").Stdout, StringComparison.Ordinal);
            Assert.Contains("Created job", Output("./liftoff job create code examples/hello").Stderr, StringComparison.Ordinal);
            var follow = Output("./liftoff runs logs RUN --follow").Stdout;
            Assert.Contains("epoch 0: loss 0.6065", follow, StringComparison.Ordinal);
            Assert.Contains("epoch 4: loss", follow, StringComparison.Ordinal);
            var dryRun = outputs.Single(o => o.Command.Contains("--dry-run", StringComparison.Ordinal)).Result.Stdout;
            Assert.StartsWith("queue: cpu\n", dryRun, StringComparison.Ordinal);
            Assert.Contains("  OMP_NUM_THREADS: \"2\"\n", dryRun, StringComparison.Ordinal);
            Assert.Contains("  HELLO_DATA: /tmp/liftoff-hello/hello\n", dryRun, StringComparison.Ordinal);

            var launches = commands.Count(c => c.Command.StartsWith("./liftoff launch ", StringComparison.Ordinal) && !c.Command.Contains("--dry-run", StringComparison.Ordinal));
            var runs = await Poll.UntilAsync(() => RunsAsync(cli), r => r.Count == 1 + launches && r.All(run => run.State is not ("pending" or "running")),
                TimeSpan.FromMinutes(3), "the tracked run and every launched run to end");
            Assert.All(runs, run => Assert.Equal("finished", run.State));
            var onCpu = await cli.RunAsync("runs", "logs", runs[0].Id);
            Assert.Contains("threads: 2", onCpu.Stdout, StringComparison.Ordinal);

            using var http = new HttpClient();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/"))).StatusCode);
        }
        finally
        {
            foreach (var (process, _) in Enumerable.Reverse(background))
            {
                await StopAsync(process);
            }
        }
    }

    [Fact]
    public async Task CliTable_ListsEveryTopLevelCommand()
    {
        using var home = new TempDirectory();
        var help = await new Cli(home.Path).RunAsync("--help");
        var commands = help.Stdout.Split('\n').SkipWhile(l => !l.StartsWith("Commands:", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => l.Trim().Split(' ')[0]).ToList();
        var documented = Section("The CLI").Split('\n').Where(l => l.StartsWith("| `liftoff ", StringComparison.Ordinal))
            .SelectMany(l => CommandInCell().Matches(UnescapedBar().Split(l)[1]).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);

        Assert.True(commands.Count >= 10, help.ToString());
        var missing = commands.Except(documented).ToList();
        Assert.True(missing.Count == 0, $"README's CLI table lacks: {string.Join(", ", missing)}");
    }

    private static string Section(string heading)
    {
        var start = Readme.IndexOf($"\n## {heading}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no section '## {heading}'");
        var end = Readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return end < 0 ? Readme[start..] : Readme[start..end];
    }

    private static List<(string Command, bool KeepsRunning)> BashLines(string section) =>
        [.. BashBlock().Matches(section).SelectMany(m => m.Groups[1].Value.Split('\n'))
            .Where(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#'))
            .Select(l => l.Split(" # ", 2) is var parts ? (parts[0].Trim(), parts.Length > 1 && parts[1].Contains("keeps running", StringComparison.Ordinal)) : default)];

    private static (Process, StringBuilder) StartInBackground(string command, IReadOnlyDictionary<string, string?> env)
    {
        var process = ProcessRunner.Start("bash", ["-c", "exec " + command], env, Repo.Root);
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, output);
    }

    private static async Task<List<string>> RunIdsAsync(Cli cli) => [.. (await RunsAsync(cli)).Select(r => r.Id)];

    /// <summary>Every run, newest first.</summary>
    private static async Task<List<(string Id, string State)>> RunsAsync(Cli cli)
    {
        var list = await cli.RunAsync("runs", "list", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        return [.. JsonDocument.Parse(list.Stdout).RootElement.GetProperty("runs").EnumerateArray()
            .Select(r => (r.GetProperty("id").GetString()!, r.GetProperty("state").GetString()!))];
    }

    private static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        process.Dispose();
    }


    [GeneratedRegex(@"```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();

    [GeneratedRegex(@"\bRUN\b")]
    private static partial Regex RunPlaceholder();

    [GeneratedRegex(@"`liftoff ([a-z][a-z-]*)")]
    private static partial Regex CommandInCell();

    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex UnescapedBar();
}
