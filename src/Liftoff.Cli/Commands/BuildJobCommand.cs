using System.CommandLine;
using System.Text.Json;
using Liftoff.Agent;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Targets;
using Liftoff.Targets.Builders;
using Liftoff.Targets.Builders.Docker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace Liftoff.Cli.Commands;

/// <summary>
/// <c>liftoff job build JOB --queue Q</c>: builds the image a launch of the job on the queue would run, on this
/// machine's Docker engine with the agent config's builder and registry, without launching it. Shows the build's
/// steps as they go; prints the image reference (and with <c>--push</c>, its registry digest).
/// </summary>
internal sealed class BuildJobCommand : BaseCommand
{
    private static readonly Argument<string> JobArgument = new("job") { Description = "NAME, NAME:ALIAS or NAME:vK." };
    private static readonly Option<string> QueueOption = new("--queue") { Description = "The docker (or other image) queue whose config the build uses.", Required = true };
    private static readonly Option<string?> ConfigOption = new("--config") { Description = "An agent config file: its builder, registry and docker sections." };
    private static readonly Option<bool> PushOption = new("--push") { Description = "Push the image to the agent config's registry." };

    public BuildJobCommand() : base("build", HostedCommandText.JobBuild)
    {
        Arguments.Add(JobArgument);
        Options.Add(QueueOption);
        Options.Add(ProjectOption.Option);
        Options.Add(ConfigOption);
        Options.Add(PushOption);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var options = new AgentOptions();
        if (parseResult.GetValue(ConfigOption) is { } config)
        {
            AgentConfigFile.Apply(config, options);
        }

        if (options.Builder?.Type is { } type && type != "docker")
        {
            throw new LiftoffException($"job build builds with builder docker; the agent config's builder.type is {type}");
        }

        options.Builder ??= new BuilderSettings();
        options.Builder.Type = "docker";
        using var client = Connect();
        var spec = await client.DryRunAsync(parseResult.GetValue(QueueOption)!, new EnqueueRequest(parseResult.GetValue(JobArgument), parseResult.GetValue(ProjectOption.Option)), cancellationToken);
        var job = spec.JobDefinition.Deserialize(LiftoffJsonContext.Default.JobDefinition)!;
        await using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddFilter(_ => false))
            .AddLiftoffAgent(client, options)
            .AddTargetRunner(Resources.Docker, options)
            .BuildServiceProvider();
        var builder = (DockerImageBuilder)services.GetRequiredService<IImageBuilder>();
        var work = Directory.CreateTempSubdirectory("liftoff-build-");
        // No run exists yet: what the code fetch would write to a run's console goes nowhere.
        var console = new RunConsole(client, spec.RunId, TimeProvider.System, NullLogger.Instance);
        var json = parseResult.GetValue(JsonOption);
        try
        {
            var context = new LaunchContext(spec, job, console, client, work.FullName);
            var push = parseResult.GetValue(PushOption);
            JobImage image;
            if (json || Console.IsErrorRedirected)
            {
                image = await builder.PrepareAsync(context, push, async (_, line, token) => await Console.Error.WriteLineAsync(line.AsMemory(), token), cancellationToken);
            }
            else
            {
                var terminal = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                image = await terminal.Status().StartAsync($"building {Markup.Escape(spec.Job)}", async status =>
                    await builder.PrepareAsync(context, push, (_, line, _) =>
                    {
                        terminal.WriteLine(line);
                        status.Status(Markup.Escape(line.Length > 100 ? line[..100] + "…" : line));
                        return ValueTask.CompletedTask;
                    }, cancellationToken));
            }

            if (json)
            {
                using var stdout = Console.OpenStandardOutput();
                using (var writer = new Utf8JsonWriter(stdout))
                {
                    writer.WriteStartObject();
                    writer.WriteString("image", image.Reference);
                    writer.WriteString("digest", image.Digest);
                    writer.WriteBoolean("built", image.Built);
                    writer.WriteEndObject();
                }

                stdout.WriteByte((byte)'\n');
            }
            else
            {
                Console.WriteLine(image.Digest is null ? image.Reference : $"{image.Reference}@{image.Digest}");
            }

            return ExitCodes.Success;
        }
        catch (LaunchException ex)
        {
            await Console.Error.WriteLineAsync($"liftoff: the {ex.Phase} failed: {ex.Message}");
            return ExitCodes.Failed;
        }
        finally
        {
            await console.CompleteAsync(CancellationToken.None);
            work.Delete(recursive: true);
        }
    }
}
