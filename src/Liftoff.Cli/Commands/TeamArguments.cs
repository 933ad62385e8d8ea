using System.CommandLine;
using Liftoff.Client;
using Liftoff.Contracts;

namespace Liftoff.Cli.Commands;

/// <summary>What the team commands that change a membership share.</summary>
internal static class TeamArguments
{
    public static Argument<string> Team() => new("team") { Description = "The team's name." };

    public static Argument<string> User() => new("user") { Description = "The user's name." };

    /// <summary>The role option: <paramref name="defaultRole"/> when left out, or required when that is null.</summary>
    public static Option<string> Role(string? defaultRole)
    {
        var option = new Option<string>("--role")
        {
            Description = "viewer (reads), member (also runs, artifacts, jobs, launches), or admin (also queues, members, service accounts, secrets).",
            Required = defaultRole is null,
        };
        if (defaultRole is not null)
        {
            option.DefaultValueFactory = _ => defaultRole;
        }

        return option.AcceptOnlyFromAmong("viewer", "member", "admin");
    }

    public static async Task<int> SetRoleAsync(Func<LiftoffClient> connect, ParseResult parseResult, Argument<string> team, Argument<string> user, Option<string> role, string verb, CancellationToken cancellationToken)
    {
        using var client = connect();
        var member = await client.SetTeamMemberAsync(parseResult.GetValue(team)!, parseResult.GetValue(user)!, parseResult.GetValue(role)!, cancellationToken);
        if (parseResult.GetValue(BaseCommand.JsonOption))
        {
            Output.Json(member, LiftoffJsonContext.Default.TeamMember);
        }
        else
        {
            await Console.Error.WriteLineAsync($"{verb} {member.User} in team {parseResult.GetValue(team)} as {member.Role}.");
        }

        return ExitCodes.Success;
    }
}
