using System.Text;

namespace Liftoff.Core.Jobs;

/// <summary>Splits an entrypoint typed as one string (<c>python train.py --epochs 3</c>) into arguments, as a POSIX shell would quote them.</summary>
public static class CommandLines
{
    /// <summary>The arguments; throws <see cref="FormatException"/> on an unclosed quote.</summary>
    public static IReadOnlyList<string> Split(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var args = new List<string>();
        var current = new StringBuilder();
        var inArgument = false;
        for (var i = 0; i < commandLine.Length; i++)
        {
            var c = commandLine[i];
            switch (c)
            {
                case ' ' or '\t' or '\n':
                    if (inArgument)
                    {
                        args.Add(current.ToString());
                        current.Clear();
                        inArgument = false;
                    }

                    break;
                case '\'':
                    var close = commandLine.IndexOf('\'', i + 1);
                    if (close < 0)
                    {
                        throw new FormatException("the entrypoint has an unclosed ' quote");
                    }

                    current.Append(commandLine, i + 1, close - i - 1);
                    i = close;
                    inArgument = true;
                    break;
                case '"':
                    i++;
                    for (; i < commandLine.Length && commandLine[i] != '"'; i++)
                    {
                        if (commandLine[i] == '\\' && i + 1 < commandLine.Length && commandLine[i + 1] is '"' or '\\' or '$' or '`')
                        {
                            i++;
                        }

                        current.Append(commandLine[i]);
                    }

                    if (i >= commandLine.Length)
                    {
                        throw new FormatException("the entrypoint has an unclosed \" quote");
                    }

                    inArgument = true;
                    break;
                case '\\' when i + 1 < commandLine.Length:
                    current.Append(commandLine[++i]);
                    inArgument = true;
                    break;
                default:
                    current.Append(c);
                    inArgument = true;
                    break;
            }
        }

        if (inArgument)
        {
            args.Add(current.ToString());
        }

        return args;
    }
}
