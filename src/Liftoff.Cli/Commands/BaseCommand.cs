using System.CommandLine;
using System.Net;
using Liftoff.Client;

namespace Liftoff.Cli.Commands;

/// <summary>One verb: sets the single action, turns failures into a one-line reason on stderr and a named exit code.</summary>
internal abstract class BaseCommand : Command
{
    public static readonly Option<bool> JsonOption = new("--json") { Description = "Write the result as JSON to stdout (data only)." };

    protected BaseCommand(string name, string description) : base(name, description)
    {
        SetAction(async (parseResult, cancellationToken) =>
        {
            try
            {
                return await ExecuteAsync(parseResult, cancellationToken);
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
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Success;
            }
        });
    }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken);

    protected static LiftoffClient Connect() => new(LiftoffSettings.Resolve());
}
