using System.CommandLine;
using System.CommandLine.Help;
using Liftoff.Cli.Commands;

namespace Liftoff.Cli;

internal static class LiftoffCommandLine
{
    /// <summary>The command users type, whatever file runs it (Liftoff.Cli.dll, the tool's shim, ./liftoff).</summary>
    public const string Name = "liftoff";

    public static Command Build()
    {
        // A RootCommand names itself after the executable (Liftoff.Cli); help and usage must say what users type.
        var root = new Command(Name, "Liftoff: launch machine-learning jobs on queues and track their runs.")
        {
            new HelpOption(),
            new VersionOption(),
            BaseCommand.EntityOption,
            HostedCommands.Up(),
            HostedCommands.Server(),
            new LoginCommand(),
            HostedCommands.Agent(),
            new Command("runs", "List, inspect and stop runs.")
            {
                new ListRunsCommand(),
                new ShowRunCommand(),
                new LogsRunCommand(),
                new HistoryRunCommand(),
                new StopRunCommand(),
            },
            new LaunchCommand(),
            new Command("queue", "Create, edit, inspect, pause and delete queues; move and cancel launch items.")
            {
                new CreateQueueCommand(),
                new EditQueueCommand(),
                new ListQueuesCommand(),
                new DescribeQueueCommand(),
                new DeleteQueueCommand(),
                new PauseQueueCommand(),
                new PauseQueueCommand(resume: true),
                new MoveItemCommand(),
                new CancelItemCommand(),
            },
            new Command("item", "Inspect launch items.")
            {
                new DescribeItemCommand(),
            },
            new Command("keys", "Create, list and revoke your API keys.")
            {
                new CreateKeyCommand(),
                new ListKeysCommand(),
                new RevokeKeyCommand(),
            },
            new Command("secret", "Set, list and delete your secrets, referenced from queue and launch configs as ${secret:NAME}.")
            {
                new SetSecretCommand(),
                new ListSecretsCommand(),
                new DeleteSecretCommand(),
            },
            new Command("team", "Create teams and manage their members and roles.")
            {
                new CreateTeamCommand(),
                new AddMemberTeamCommand(),
                new SetRoleTeamCommand(),
                new RemoveMemberTeamCommand(),
                new ListTeamsCommand(),
                new DescribeTeamCommand(),
            },
            new Command("service-account", "Manage a team's service accounts (non-human identities for agents and CI) and their keys.")
            {
                new CreateServiceAccountCommand(),
                new ListServiceAccountsCommand(),
                new DeleteServiceAccountCommand(),
                new Command("key", "Create, list and revoke a service account's keys.")
                {
                    new CreateServiceAccountKeyCommand(),
                    new ListServiceAccountKeysCommand(),
                    new RevokeServiceAccountKeyCommand(),
                },
            },
            new AuditCommand(),
            new Command("admin", "Back up, restore and measure the server (server admin).")
            {
                new BackupAdminCommand(),
                HostedCommands.AdminRestore(),
                new UsageAdminCommand(),
            },
            new Command("users", "Manage users (admin).")
            {
                new CreateUserCommand(),
            },
            new Command("artifact", "Upload, download and list versioned artifacts.")
            {
                new PutArtifactCommand(),
                new GetArtifactCommand(),
                new ListArtifactsCommand(),
            },
            new Command("job", "Create, list and describe jobs: code, git or image.")
            {
                new Command("create", "Create a job version from code, a git repository or an image.")
                {
                    new CreateCodeJobCommand(),
                    new CreateGitJobCommand(),
                    new CreateImageJobCommand(),
                },
                new ListJobsCommand(),
                new DescribeJobCommand(),
                new AliasJobCommand(),
                HostedCommands.JobBuild(),
            },
        };
        return root;
    }
}
