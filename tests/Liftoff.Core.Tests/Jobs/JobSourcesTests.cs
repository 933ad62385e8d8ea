using Liftoff.Core.Jobs;
using Xunit;

namespace Liftoff.Core.Tests.Jobs;

public sealed class JobSourcesTests
{
    [Theory]
    [InlineData("https://user:tok@github.com/org/repo.git", "https://github.com/org/repo.git")]
    [InlineData("https://tok@host:8443/r.git", "https://host:8443/r.git")]
    [InlineData("http://a%40b:p%3Ass@127.0.0.1:9/x", "http://127.0.0.1:9/x")]
    [InlineData("ssh://user:pw@host/repo", "ssh://host/repo")]
    [InlineData("ssh://git@host/repo", "ssh://git@host/repo")]
    [InlineData("git@github.com:org/repo.git", "git@github.com:org/repo.git")]
    [InlineData("file:///srv/repo", "file:///srv/repo")]
    [InlineData("https://github.com/org/repo", "https://github.com/org/repo")]
    public void StripCredentials_RemovesSecretsAndKeepsTheRest(string remote, string expected) =>
        Assert.Equal(expected, GitRemotes.StripCredentials(remote));

    [Theory]
    [InlineData("python train.py", new[] { "python", "train.py" })]
    [InlineData("  python   -m train  ", new[] { "python", "-m", "train" })]
    [InlineData("python train.py --name 'my run' --tag \"a b\"", new[] { "python", "train.py", "--name", "my run", "--tag", "a b" })]
    [InlineData("echo a\\ b \"q\\\"uote\"", new[] { "echo", "a b", "q\"uote" })]
    [InlineData("run ''", new[] { "run", "" })]
    public void Split_ShellQuoting_GivesTheArguments(string commandLine, string[] expected) =>
        Assert.Equal(expected, CommandLines.Split(commandLine));

    [Theory]
    [InlineData("python 'unclosed")]
    [InlineData("python \"unclosed")]
    public void Split_UnclosedQuote_Throws(string commandLine) =>
        Assert.Throws<FormatException>(() => CommandLines.Split(commandLine));
}
