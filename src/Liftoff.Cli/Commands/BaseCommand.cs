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

    protected BaseCommand(string name, string description) : base(name, description)
    {
        SetAction(async (parseResult, cancellationToken) =>
        {
            using var signals = new TerminationSignals(cancellationToken, HandlesSecondSignal);
            ShutdownToken = signals.Shutdown;
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

    protected static LiftoffClient Connect() => new(LiftoffSettings.Resolve());
}
