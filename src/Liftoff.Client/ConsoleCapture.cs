using System.Text;

namespace Liftoff.Client;

/// <summary>Copies Console.Out and Console.Error, line by line, into the run's console log while passing them through.</summary>
internal sealed class ConsoleCapture : IDisposable
{
    private readonly TextWriter _originalOut;
    private readonly TeeWriter _out;
    private readonly TeeWriter _error;

    private ConsoleCapture(Run run)
    {
        _originalOut = Console.Out;
        OriginalError = Console.Error;
        _out = new TeeWriter(_originalOut, run, "stdout");
        _error = new TeeWriter(OriginalError, run, "stderr");
        Console.SetOut(TextWriter.Synchronized(_out));
        Console.SetError(TextWriter.Synchronized(_error));
    }

    public TextWriter OriginalError { get; }

    public static ConsoleCapture Start(Run run) => new(run);

    public void Dispose()
    {
        Console.SetOut(_originalOut);
        Console.SetError(OriginalError);
        _out.FlushLine();
        _error.FlushLine();
    }

    private sealed class TeeWriter(TextWriter inner, Run run, string stream) : TextWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            inner.Write(value);
            if (value == '\n')
            {
                EndLine();
            }
            else if (value != '\r')
            {
                _line.Append(value);
            }
        }

        public override void Write(string? value)
        {
            if (value is null)
            {
                return;
            }

            inner.Write(value);
            foreach (var c in value)
            {
                if (c == '\n')
                {
                    EndLine();
                }
                else if (c != '\r')
                {
                    _line.Append(c);
                }
            }
        }

        public override void Flush() => inner.Flush();

        /// <summary>Sends a partial last line, at the end of the run.</summary>
        public void FlushLine()
        {
            if (_line.Length > 0)
            {
                EndLine();
            }
        }

        private void EndLine()
        {
            run.EnqueueConsole(stream, _line.ToString());
            _line.Clear();
        }
    }
}
