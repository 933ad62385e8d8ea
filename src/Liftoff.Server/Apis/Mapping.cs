using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Core.Runs;

namespace Liftoff.Server.Apis;

internal static class Mapping
{
    public static RunInfo ToInfo(RunRecord run) => new(
        run.Id, run.Entity, run.Project, run.Name, run.State, Json(run.ConfigJson), Json(run.SummaryJson),
        run.Host, run.Os, run.Program, run.PythonVersion, run.ExitCode, run.CreatedAt, run.StartedAt, run.EndedAt,
        run.HeartbeatAt, run.StopRequested, run.LastStep, run.LogLines);

    public static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
