namespace Liftoff.Contracts;

/// <summary>
/// The <c>type</c> of the problem answers a client acts on by type, not by status: a status such as 409 has several
/// causes, and only these say what to do.
/// </summary>
public static class ProblemTypes
{
    /// <summary>Where every Liftoff problem type starts.</summary>
    public const string Base = "https://liftoff.dev/problems/";

    /// <summary>An operator asked the agent to stop claiming: the agent claims no more and ends once its work is done.</summary>
    public const string AgentStopRequested = Base + "agent-stop-requested";
}
