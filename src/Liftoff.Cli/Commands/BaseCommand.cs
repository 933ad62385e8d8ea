using System.CommandLine;
using System.Net;
using Liftoff.Client;

namespace Liftoff.Cli.Commands;

/// <summary>
/// One verb: sets the single action, turns failures into a one-line reason on stderr and a named exit code. The
/// cancellation token passed to <see cref="ExecuteAsync"/> is cancelled by the first SIGINT/SIGTERM (see <see cref="TerminationSignals"/>).
/// </summary>
internal abstract class BaseCommand : Command
{
    public static readonly Option<bool> JsonOption = new("--json") { Description = "Write the result as JSON to stdout (data only)." };

    /// <summary>Given once on the root, so every command (and every request it makes) acts on the entity named.</summary>
    public static readonly Option<string?> EntityOption = new("--entity")
    {
        Description = "The user or team whose projects, queues, jobs, artifacts and secrets to act on (default: LIFTOFF_ENTITY, else the config file's, else your default entity).",
        Recursive = true,
    };

    protected BaseCommand(string name, string description) : base(name, description)
    {
        SetAction(async (parseResult, cancellationToken) =>
        {
            using var signals = new TerminationSignals(cancellationToken, HandlesSecondSignal);
            ShutdownToken = signals.Shutdown;
            _entity = parseResult.GetValue(EntityOption);
            try
            {
                return await ExecuteAsync(parseResult, signals.Stopping);
            }
            catch (LiftoffException ex)
            {
                await Console.Error.WriteLineAsync($"liftoff: {ex.Message}");
                return ex.StatusCode switch
                {
                    HttpStatusCode.Unauthorized => ExitCodes.Unauthorized,
                    HttpStatusCode.NotFound => ExitCodes.NotFound,
                    null when ex.InnerException is HttpRequestException => ExitCodes.Unreachable,
                    null => ExitCodes.Usage,
                    _ => ExitCodes.Failed,
                };
            }
            catch (OperationCanceledException) when (signals.Stopping.IsCancellationRequested)
            {
                return ExitCodes.Success;
            }
        });
    }

    /// <summary>Commands that stop in two phases (agent, up) see the second SIGINT/SIGTERM in <see cref="ShutdownToken"/>; others are ended by it.</summary>
    protected virtual bool HandlesSecondSignal => false;

    /// <summary>Cancelled by the second signal, for commands that <see cref="HandlesSecondSignal"/>.</summary>
    protected CancellationToken ShutdownToken { get; private set; }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken);

    protected LiftoffClient Connect() => new(Settings());

    /// <summary>The resolved settings, with <c>--entity</c> over the environment's and the config file's.</summary>
    protected LiftoffSettings Settings() => LiftoffSettings.Resolve(entity: _entity);

    private string? _entity;
}
