using System.CommandLine;
using System.Text;

namespace Liftoff.Cli.Commands;

/// <summary>
/// The value comes from stdin or a file, never from an argument, so it stays out of shell history and of <c>ps</c>.
/// </summary>
internal sealed class SetSecretCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The secret's name: letters, digits and '_', referenced as ${secret:NAME}." };

    private static readonly Option<FileInfo?> FromFileOption = new("--from-file")
    {
        Description = "Read the value from this file, byte for byte (default: stdin, less one trailing newline; typed without echo on a terminal).",
    };

    public SetSecretCommand() : base("set", "Create or replace a secret; its value is never shown again.")
    {
        Arguments.Add(NameArgument);
        Options.Add(FromFileOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var name = parseResult.GetValue(NameArgument)!;
        string value;
        if (parseResult.GetValue(FromFileOption) is { } file)
        {
            if (!file.Exists)
            {
                await Console.Error.WriteLineAsync($"liftoff: --from-file: {file.FullName} not found");
                return ExitCodes.Usage;
            }

            value = await File.ReadAllTextAsync(file.FullName, cancellationToken);
        }
        else if (Console.IsInputRedirected)
        {
            value = await Console.In.ReadToEndAsync(cancellationToken);
            value = value.EndsWith("\r\n", StringComparison.Ordinal) ? value[..^2] : value.EndsWith('\n') ? value[..^1] : value;
        }
        else
        {
            await Console.Error.WriteAsync($"Value of {name} (not echoed): ");
            value = ReadHidden();
            await Console.Error.WriteLineAsync();
        }

        if (value.Length == 0)
        {
            await Console.Error.WriteLineAsync("liftoff: the secret's value is empty: pipe it to stdin or pass --from-file");
            return ExitCodes.Usage;
        }

        using var client = Connect();
        var secret = await client.SetSecretAsync(name, value, cancellationToken);
        await Console.Error.WriteLineAsync($"Set secret {secret.Name}; reference it as ${{secret:{secret.Name}}} in an environment value of a queue or launch config.");
        return ExitCodes.Success;
    }

    private static string ReadHidden()
    {
        var value = new StringBuilder();
        while (Console.ReadKey(intercept: true) is var key && key.Key != ConsoleKey.Enter)
        {
            if (key.Key == ConsoleKey.Backspace)
            {
                value.Length = Math.Max(0, value.Length - 1);
            }
            else if (key.KeyChar != '\0')
            {
                value.Append(key.KeyChar);
            }
        }

        return value.ToString();
    }
}
