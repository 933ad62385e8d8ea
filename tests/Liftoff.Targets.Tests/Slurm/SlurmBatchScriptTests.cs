using System.Diagnostics;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Targets.Slurm;
using Xunit;

namespace Liftoff.Targets.Tests.Slurm;

public sealed class SlurmBatchScriptTests
{
    private static readonly SlurmSubmission Submission = new(
        "liftoff-item1-1", "liftoff item=item1 attempt=1", "/shared/liftoff/item1-1", "/shared/liftoff/item1-1/output.log",
        "/shared/liftoff/item1-1/secrets.env", ["python", "train.py", "--name", "it's"],
        new Dictionary<string, string> { ["LIFTOFF_RUN_ID"] = "r1", ["MSG"] = "a $HOME `b`" }, null);

    [Fact]
    public void Render_ARepresentativeConfig_IsExactlyThisScript()
    {
        var config = new SlurmResourceConfig
        {
            Partition = "gpu", Time = "1-00:00:00", Nodes = "2", Ntasks = 4, NtasksPerNode = 2, CpusPerTask = 8, Mem = "64G", Gpus = "a100:2",
            Constraint = "a100&ib", Qos = "high", Account = "ml", Exclusive = true, Signal = "B:USR1@120", Modules = ["cuda/12.1"],
            Setup = ["source /opt/site/env.sh"], ReportAllRanks = true,
        };

        var script = SlurmBatchScript.Render(config, Submission);

        Assert.Equal("""
            #!/bin/bash
            #SBATCH --job-name="liftoff-item1-1"
            #SBATCH --comment="liftoff item=item1 attempt=1"
            #SBATCH --chdir="/shared/liftoff/item1-1"
            #SBATCH --output="/shared/liftoff/item1-1/output.log"
            #SBATCH --partition="gpu"
            #SBATCH --time="1-00:00:00"
            #SBATCH --nodes="2"
            #SBATCH --ntasks="4"
            #SBATCH --ntasks-per-node="2"
            #SBATCH --cpus-per-task="8"
            #SBATCH --mem="64G"
            #SBATCH --gpus="a100:2"
            #SBATCH --constraint="a100&ib"
            #SBATCH --qos="high"
            #SBATCH --account="ml"
            #SBATCH --signal="B:USR1@120"
            #SBATCH --export="NONE"
            #SBATCH --exclusive
            set -e
            # the run key, the secret values and PATH, HOME and the locale of the submitting user: in a file only that user reads
            . '/shared/liftoff/item1-1/secrets.env'
            module load 'cuda/12.1'
            source /opt/site/env.sh
            export LIFTOFF_RUN_ID='r1'
            export MSG='a $HOME `b`'
            export LIFTOFF_ALL_RANKS=1
            exec srun --export=ALL /bin/sh -c 'export LIFTOFF_RANK="$SLURM_PROCID" RANK="$SLURM_PROCID" WORLD_SIZE="$SLURM_NTASKS" LOCAL_RANK="$SLURM_LOCALID"; exec "$@"' liftoff-rank 'python' 'train.py' '--name' 'it'\''s'

            """, script);
    }

    [Fact]
    public void Render_WithMaxNodesButNoNodes_BoundsTheAllocation()
    {
        var script = SlurmBatchScript.Render(new SlurmResourceConfig { MaxNodes = 4 }, Submission);

        Assert.Contains("#SBATCH --nodes=\"1-4\"\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_AnImageJob_RunsItThroughApptainerOrPyxis()
    {
        var image = Submission with { WorkDir = "/w", Image = "ghcr.io/org/train:1", Command = ["python", "train.py"] };

        var apptainer = SlurmBatchScript.Render(new SlurmResourceConfig { Container = SlurmContainer.Apptainer, Gpus = "1" }, image);
        var enroot = SlurmBatchScript.Render(new SlurmResourceConfig { Container = SlurmContainer.Enroot }, image);

        Assert.EndsWith(
            "exec srun --export=ALL /bin/sh -c '" + SlurmBatchScript.RankWrapper + "' liftoff-rank 'apptainer' 'exec' '--bind' '/w' '--pwd' '/w' '--nv' 'docker://ghcr.io/org/train:1' 'python' 'train.py'\n",
            apptainer, StringComparison.Ordinal);
        Assert.EndsWith(
            "exec srun --export=ALL '--container-image=ghcr.io#org/train:1' '--container-mounts=/w' '--container-workdir=/w' /bin/sh -c '" + SlurmBatchScript.RankWrapper + "' liftoff-rank 'python' 'train.py'\n",
            enroot, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SlurmBatchScript.Render(new SlurmResourceConfig(), image));
    }

    [Theory]
    [InlineData("nvcr.io/nvidia/pytorch:24.01", "nvcr.io#nvidia/pytorch:24.01")]
    [InlineData("localhost:5000/train:1", "localhost:5000#train:1")]
    [InlineData("pytorch/pytorch:2.3", "pytorch/pytorch:2.3")]
    [InlineData("ubuntu", "ubuntu")]
    public void PyxisImage_SetsTheRegistryOffWithAHash(string image, string expected) => Assert.Equal(expected, SlurmBatchScript.PyxisImage(image));

    [Fact]
    public void Render_RefusesTheRunKeyOrABadNameInTheScriptsEnvironment()
    {
        Assert.Throws<ArgumentException>(() => SlurmBatchScript.Render(new SlurmResourceConfig(),
            Submission with { Environment = new Dictionary<string, string> { ["LIFTOFF_API_KEY"] = "lk_secret" } }));
        Assert.Throws<ArgumentException>(() => SlurmBatchScript.Render(new SlurmResourceConfig(),
            Submission with { Environment = new Dictionary<string, string> { ["A;id"] = "1" } }));
    }

    [Fact]
    public void SplitEnvironment_PutsTheRunKeyAndSecretReferencesInTheFile_AndTheRestInTheScript()
    {
        var config = new SlurmResourceConfig { Env = new Dictionary<string, string> { ["HF_TOKEN"] = "${secret:HF}", ["HF_HOME"] = "/shared/hf", ["LIFTOFF_PROJECT"] = "mine" } };
        var run = new Dictionary<string, string> { ["LIFTOFF_API_KEY"] = "lk_1", ["WANDB_API_KEY"] = "lk_1", ["LIFTOFF_PROJECT"] = "p" };

        var (exported, secret) = SlurmBatchScript.SplitEnvironment(config, run, (name, value) => $"resolved {name} {value}");

        Assert.Equal(new Dictionary<string, string> { ["HF_HOME"] = "/shared/hf", ["LIFTOFF_PROJECT"] = "p" }, exported);
        Assert.Equal(new Dictionary<string, string> { ["HF_TOKEN"] = "resolved HF_TOKEN ${secret:HF}", ["LIFTOFF_API_KEY"] = "lk_1", ["WANDB_API_KEY"] = "lk_1" }, secret);
    }

    /// <summary>
    /// The script's shell side run by bash for real: the entrypoint gets its argv byte for byte, the variables and the
    /// secrets file's values, and its rank. <c>srun</c> is the one stand-in (no cluster here): a script that starts the
    /// task the way srun does, with SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID set.
    /// </summary>
    [Fact]
    public async Task Render_TheScriptRunByBash_GivesTheEntrypointItsExactArgvVariablesSecretsAndRank()
    {
        var dir = Directory.CreateTempSubdirectory("liftoff-slurm-");
        try
        {
            var bin = Directory.CreateDirectory(Path.Combine(dir.FullName, "bin")).FullName;
            var srun = Path.Combine(bin, "srun");
            await File.WriteAllTextAsync(srun, "#!/bin/sh\ncase \"$1\" in --export=ALL) shift ;; *) exit 9 ;; esac\nexport SLURM_PROCID=1 SLURM_NTASKS=2 SLURM_LOCALID=1\nexec \"$@\"\n");
            File.SetUnixFileMode(srun, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var secrets = Path.Combine(dir.FullName, "secrets.env");
            await File.WriteAllTextAsync(secrets, SlurmBatchScript.SecretsFileText(new Dictionary<string, string> { ["LIFTOFF_API_KEY"] = "lk_'quoted' $(x)" }));
            string[] argv = ["it's", "$(touch pwned)", "`id`", "a\nb", "\"q\"", "*", "$HOME", "--x=1 2"];
            var script = SlurmBatchScript.Render(new SlurmResourceConfig { Setup = ["export FROM_SETUP=yes"] }, new SlurmSubmission(
                "j", "c", dir.FullName, Path.Combine(dir.FullName, "out.log"), secrets,
                ["python3", "-c", "import json, os, sys; print(json.dumps([sys.argv[1:], {k: os.environ.get(k) for k in ['MSG', 'FROM_SETUP', 'LIFTOFF_API_KEY', 'LIFTOFF_RANK', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK']}]))", .. argv],
                new Dictionary<string, string> { ["MSG"] = "a 'b' $HOME\n`c`" }, null));
            var path = Path.Combine(dir.FullName, "job.sh");
            await File.WriteAllTextAsync(path, script);

            var start = new ProcessStartInfo("bash", [path]) { WorkingDirectory = dir.FullName, RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
            using var process = Process.Start(start)!;
            var stdout = await process.StandardOutput.ReadToEndAsync();
            var stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();

            Assert.True(process.ExitCode == 0, stderr);
            using var seen = JsonDocument.Parse(stdout);
            Assert.Equal(argv, seen.RootElement[0].EnumerateArray().Select(a => a.GetString()));
            var env = seen.RootElement[1];
            Assert.Equal("a 'b' $HOME\n`c`", env.GetProperty("MSG").GetString());
            Assert.Equal("yes", env.GetProperty("FROM_SETUP").GetString());
            Assert.Equal("lk_'quoted' $(x)", env.GetProperty("LIFTOFF_API_KEY").GetString());
            Assert.Equal(["1", "1", "2", "1"], new[] { "LIFTOFF_RANK", "RANK", "WORLD_SIZE", "LOCAL_RANK" }.Select(k => env.GetProperty(k).GetString()));
            Assert.False(File.Exists(Path.Combine(dir.FullName, "pwned")));
            Assert.DoesNotContain("lk_", script, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void RenderDryRun_ShowsTheScriptWithPlaceholders_AndNeitherTheKeyNorASecretsValue()
    {
        using var resource = JsonDocument.Parse("""{"partition": "gpu", "time": "30", "env": {"HF_TOKEN": "${secret:HF}", "HF_HOME": "/shared/hf"}}""");
        using var definition = JsonDocument.Parse("""{"source_type": "repo", "source": {"remote": "https://example.invalid/r.git", "commit": "abc"}}""");
        var spec = new LaunchSpec("item1", 1, "hpc", "slurm", "e", "p", "<run id, chosen at claim>", "<run name>", "train:v0", definition.RootElement,
            ["python", "train.py"], default, resource.RootElement,
            new Dictionary<string, string> { ["LIFTOFF_API_KEY"] = "<run-scoped key, minted at claim>", ["WANDB_API_KEY"] = "<run-scoped key, minted at claim>", ["LIFTOFF_PROJECT"] = "p" });

        var script = new SlurmTarget().RenderDryRun(spec);

        Assert.StartsWith("#!/bin/bash\n#SBATCH --job-name=\"<job name given by the agent>\"\n", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --partition=\"gpu\"\n#SBATCH --time=\"30\"\n", script, StringComparison.Ordinal);
        Assert.Contains(". '<slurm.workdir>/<attempt folder>/secrets.env'\n", script, StringComparison.Ordinal);
        Assert.Contains("export HF_HOME='/shared/hf'\n", script, StringComparison.Ordinal);
        Assert.Contains("export LIFTOFF_BASE_URL='<server URL as compute nodes see it>'\n", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --export=\"NONE\"\n", script, StringComparison.Ordinal);
        Assert.Contains("export VIRTUAL_ENV='<the virtual environment made for the job>'\n", script, StringComparison.Ordinal);
        Assert.Contains("export PYTHONPATH='<the Liftoff SDK>'\n", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --chdir=\"<slurm.workdir>/<attempt folder>/code\"\n", script, StringComparison.Ordinal);
        Assert.EndsWith($"liftoff-rank '/bin/sh' '-c' '{SlurmBatchScript.VenvWrapper}' 'liftoff-venv' 'python' 'train.py'\n", script, StringComparison.Ordinal);
        Assert.DoesNotContain("API_KEY", script, StringComparison.Ordinal);
        Assert.DoesNotContain("HF_TOKEN", script, StringComparison.Ordinal);
    }
}
