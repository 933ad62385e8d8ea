using System.Runtime.InteropServices;

namespace Liftoff.Cli;

/// <summary>
/// SIGINT/SIGTERM for one command, in two phases: the first signal cancels <see cref="Stopping"/> (stop taking new work,
/// finish or hand back the rest); the second cancels <see cref="Shutdown"/> (stop at once). A command that does not
/// handle the second signal is terminated by it, as a terminal user expects from a second Ctrl+C.
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _stopping;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly PosixSignalRegistration[] _registrations;
    private readonly bool _handlesSecondSignal;
    private int _received;

    public TerminationSignals(CancellationToken cancellationToken, bool handlesSecondSignal)
    {
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _handlesSecondSignal = handlesSecondSignal;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];
    }

    public CancellationToken Stopping => _stopping.Token;

    public CancellationToken Shutdown => _shutdown.Token;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _stopping.Dispose();
        _shutdown.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        switch (Interlocked.Increment(ref _received))
        {
            case 1:
                context.Cancel = true;
                _stopping.Cancel();
                break;
            case 2 when _handlesSecondSignal:
                context.Cancel = true;
                _shutdown.Cancel();
                break;
            default:
                // Not handled: the runtime's default, which ends the process.
                break;
        }
    }
}
