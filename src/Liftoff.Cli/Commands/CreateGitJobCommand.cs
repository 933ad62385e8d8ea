using System.CommandLine;
using Liftoff.Contracts;
using Liftoff.Core.Jobs;

namespace Liftoff.Cli.Commands;

/// <summary><c>liftoff job create git URL</c>: the ref is resolved to a commit now, with git, and the job records that commit.</summary>
internal sealed class CreateGitJobCommand : BaseCommand
{
    private static readonly Argument<string> RemoteArgument = new("url") { Description = "The git remote: https://, http://, ssh:// or user@host:path (agents clone it; paths and file:// are refused)." };
    private static readonly Option<string?> RefOption = new("--ref") { Description = "A branch, tag or full commit id (default: the remote's HEAD)." };
    private static readonly Option<string?> SubdirOption = new("--subdir") { Description = "The directory of the repository the entrypoint runs in." };
    private static readonly Option<string?> TokenOption = new("--git-token")
    {
        Description = "A token for a private repository (default: LIFTOFF_GIT_TOKEN, else your git configuration); used to resolve the ref, never stored.",
    };

    public CreateGitJobCommand() : base("git", "Create a job from a git repository at a resolved commit.")
    {
        Arguments.Add(RemoteArgument);
        Options.Add(RefOption);
        Options.Add(SubdirOption);
        Options.Add(TokenOption);
        JobOptions.AddTo(this);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var remote = parseResult.GetValue(RemoteArgument)!;
        var token = parseResult.GetValue(TokenOption) ?? (Environment.GetEnvironmentVariable("LIFTOFF_GIT_TOKEN") is { Length: > 0 } fromEnv ? fromEnv : null);
        var commit = await GitRefs.ResolveAsync(remote, parseResult.GetValue(RefOption), token, cancellationToken);
        var stripped = GitRemotes.StripCredentials(remote);
        var repoName = stripped.TrimEnd('/').Split('/', ':')[^1];
        repoName = repoName.EndsWith(".git", StringComparison.Ordinal) ? repoName[..^4] : repoName;
        var request = JobOptions.Request(parseResult, repoName, JobSourceTypes.Repo,
            JobOptions.Source(("remote", stripped), ("commit", commit), ("subdir", parseResult.GetValue(SubdirOption)?.Trim('/'))));
        using var client = Connect();
        return await JobOptions.CreateAsync(client, parseResult, request, cancellationToken);
    }
}
