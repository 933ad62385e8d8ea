using System.Text.RegularExpressions;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

/// <summary>
/// The <c>./liftoff</c> launcher script of this checkout, run in a copy of the checkout's layout with a <c>dotnet</c> on
/// PATH that records its arguments instead of building: what the script says, when it rebuilds, and how it builds.
/// </summary>
public sealed class LauncherTests
{
    [Fact]
    public async Task FirstRun_SaysHowLongTheBuildTakesAndTimesEachStep()
    {
        using var checkout = new Checkout();

        var result = await checkout.RunAsync("--version");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("native client ran --version\n", result.Stdout);
        Assert.Contains("first build", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("3 to 8 minutes", result.Stderr, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"^liftoff: restoring NuGet packages: done in \d+ s$", RegexOptions.Multiline), result.Stderr);
        Assert.Matches(new Regex(@"^liftoff: compiling and publishing .*: done in \d+ s$", RegexOptions.Multiline), result.Stderr);
        Assert.Matches(new Regex(@"^liftoff: compiling the client natively \(Native AOT\): done in \d+ s$", RegexOptions.Multiline), result.Stderr);
        Assert.Matches(new Regex(@"^liftoff: built in \d+ s$", RegexOptions.Multiline), result.Stderr);
        var calls = checkout.DotnetCalls();
        Assert.Equal(3, calls.Length);
        Assert.Matches($@"^restore {Regex.Escape(checkout.Root)}/src/Liftoff.Cli -r linux-(x64|arm64) -p:PublishReadyToRun=true ", calls[0]);
        Assert.Matches($@"^publish {Regex.Escape(checkout.Root)}/src/Liftoff.Cli -c Release -r linux-(x64|arm64) --self-contained false -p:PublishReadyToRun=true -p:UseAppHost=false --no-restore -o {Regex.Escape(checkout.Output)} ", calls[1]);
        Assert.Matches($@"^publish {Regex.Escape(checkout.Root)}/src/Liftoff.Cli.Native -c Release -r linux-(x64|arm64) -o {Regex.Escape(checkout.Output)} ", calls[2]);
    }

    [Fact]
    public async Task LaterRuns_RebuildOnlyWhenASourceChanged()
    {
        using var checkout = new Checkout();
        Assert.Equal(0, (await checkout.RunAsync("--version")).ExitCode);
        var built = File.GetLastWriteTimeUtc(Path.Combine(checkout.Output, ".built"));

        var unchanged = await checkout.RunAsync("runs", "list");
        checkout.Write("src/Liftoff.Cli/bin/Release/Liftoff.Cli.dll", built.AddSeconds(10));
        checkout.Write("src/Liftoff.Cli/obj/project.assets.json", built.AddSeconds(10));
        checkout.Write("sdk/python/liftoff/__pycache__/run.cpython-311.pyc", built.AddSeconds(10));
        var buildOutputsOnly = await checkout.RunAsync("runs", "list");
        var callsBefore = checkout.DotnetCalls().Length;
        checkout.Write("src/Liftoff.Cli/Program.cs", built.AddSeconds(10));
        var sourceChanged = await checkout.RunAsync("runs", "list");

        Assert.Equal("", unchanged.Stderr);
        Assert.Equal("native client ran runs list\n", unchanged.Stdout);
        Assert.Equal("", buildOutputsOnly.Stderr);
        Assert.Equal(3, callsBefore);
        Assert.True(sourceChanged.ExitCode == 0, sourceChanged.ToString());
        Assert.Contains("the sources changed; rebuilding", sourceChanged.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("first build", sourceChanged.Stderr, StringComparison.Ordinal);
        Assert.Equal(callsBefore + 3, checkout.DotnetCalls().Length);
    }

    /// <summary>The launcher with the files its staleness check looks at, and a recording <c>dotnet</c>.</summary>
    private sealed class Checkout : IDisposable
    {
        private readonly TempDirectory _directory = new();

        public Checkout()
        {
            File.Copy(Path.Combine(Repo.Root, "liftoff"), Path.Combine(Root, "liftoff"));
            File.SetUnixFileMode(Path.Combine(Root, "liftoff"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(Path.Combine(Root, "scripts", "setup"));
            File.Copy(Path.Combine(Repo.Root, "scripts", "setup", "aot.sh"), Path.Combine(Root, "scripts", "setup", "aot.sh"));
            var past = DateTime.UtcNow.AddHours(-1);
            foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "src/Liftoff.Cli/Program.cs", "sdk/python/liftoff/__init__.py" })
            {
                Write(file, past);
            }

            Directory.CreateDirectory(Path.Combine(Root, "stub"));
            var dotnet = Path.Combine(Root, "stub", "dotnet");
            File.WriteAllText(dotnet, """
                #!/bin/sh
                echo "$*" >> "$STUB_LOG"
                case "$1" in
                  restore) ;;
                  publish)
                    project="$2"
                    while [ $# -gt 0 ]; do
                      if [ "$1" = -o ]; then mkdir -p "$2"; echo "  Liftoff.Cli -> $2/"; out="$2"; fi
                      shift
                    done
                    case "$project" in
                      *Liftoff.Cli.Native) printf '#!/bin/sh\necho "native client ran $*"\n' > "$out/liftoff"; chmod +x "$out/liftoff" ;;
                    esac ;;
                  *) echo "ran $*" ;;
                esac
                """);
            File.SetUnixFileMode(dotnet, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        public string Root => _directory.Path;

        public string Output => Path.Combine(Root, ".build", "cli");

        private string Log => Path.Combine(Root, "dotnet-calls");

        public void Write(string relative, DateTime modified)
        {
            var path = Path.Combine(Root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "x");
            File.SetLastWriteTimeUtc(path, modified);
        }

        public string[] DotnetCalls() => File.Exists(Log) ? File.ReadAllLines(Log) : [];

        public Task<ProcessResult> RunAsync(params string[] args) => ProcessRunner.RunAsync(Path.Combine(Root, "liftoff"), args, new Dictionary<string, string?>
        {
            ["PATH"] = $"{Path.Combine(Root, "stub")}:/usr/local/bin:/usr/bin:/bin",
            ["STUB_LOG"] = Log,
        });

        public void Dispose() => _directory.Dispose();
    }
}
