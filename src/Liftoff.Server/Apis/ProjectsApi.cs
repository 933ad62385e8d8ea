using Liftoff.Contracts;
using Liftoff.Server.Auth;
using Liftoff.Server.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Liftoff.Server.Apis;

internal static class ProjectsApi
{
    public static IEndpointRouteBuilder MapProjectsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/projects").RequireAuthorization().WithTags("Projects").MapGet("/", ListProjects).Needs(EntityRole.Viewer);
        return app;
    }

    public static async Task<Ok<ProjectList>> ListProjects(HttpContext http, IRunStore runs, CancellationToken cancellationToken)
    {
        var projects = await runs.ListProjectsAsync(Acting.Of(http).EntityId, cancellationToken);
        return TypedResults.Ok(new ProjectList([.. projects.Select(p => new ProjectInfo(p.Entity, p.Name, p.CreatedAt, p.RunCount))]));
    }
}
