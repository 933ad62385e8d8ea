using System.CommandLine;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

internal sealed class CreateUserCommand : BaseCommand
{
    private static readonly Argument<string> NameArgument = new("name") { Description = "The new user's name." };

    public CreateUserCommand() : base("create", "Create a user and its first API key (admin only).")
    {
        Arguments.Add(NameArgument);
        Options.Add(JsonOption);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        using var client = Connect();
        var user = await client.CreateUserAsync(parseResult.GetValue(NameArgument)!, cancellationToken);
        if (parseResult.GetValue(JsonOption))
        {
            Output.Json(user, LiftoffJsonContext.Default.CreatedUser);
        }
        else
        {
            await Console.Error.WriteLineAsync($"Created user {user.Entity}; its API key, shown only this once:");
            Console.WriteLine(user.Key.Key);
        }

        return ExitCodes.Success;
    }
}
