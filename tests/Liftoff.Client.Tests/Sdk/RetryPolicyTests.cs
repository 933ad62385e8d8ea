using System.Net;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Client.Tests.Sdk;

/// <summary>The client's one retry policy, against a real server behind a handler that answers the first tries itself.</summary>
public sealed class RetryPolicyTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Read_AfterBadGateways_IsResent()
    {
        using var failing = new FailFirst(HttpStatusCode.BadGateway, times: 2);
        using var client = Client(failing, TimeSpan.FromSeconds(30));

        var viewer = await client.GetViewerAsync();

        Assert.Equal("admin", viewer.Entity);
        Assert.Equal(3, failing.Requests);
    }

    [Fact]
    public async Task WriteWithoutIdempotency_AfterABadGateway_IsNotResent_ButAfterAServiceUnavailable_Is()
    {
        using (var gateway = new FailFirst(HttpStatusCode.BadGateway, times: 1))
        using (var client = Client(gateway, TimeSpan.FromSeconds(30)))
        {
            var refused = await Assert.ThrowsAsync<LiftoffException>(() => client.CreateQueueAsync(new CreateQueueRequest("q" + Guid.NewGuid().ToString("N")[..8], Resources.LocalProcess)));

            Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
            Assert.Equal(1, gateway.Requests);
        }

        using var unavailable = new FailFirst(HttpStatusCode.ServiceUnavailable, times: 1);
        using var retrying = Client(unavailable, TimeSpan.FromSeconds(30));
        var queue = await retrying.CreateQueueAsync(new CreateQueueRequest("q" + Guid.NewGuid().ToString("N")[..8], Resources.LocalProcess));

        Assert.Equal(Resources.LocalProcess, queue.Resource);
        Assert.Equal(2, unavailable.Requests);
    }

    [Fact]
    public async Task EnqueueWithAnIdempotencyKey_AfterAGatewayTimeout_IsResentWithItsBody()
    {
        using var admin = server.Client();
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];
        await admin.CreateQueueAsync(new CreateQueueRequest(queue, Resources.LocalProcess));
        using var http = server.Http(server.AdminKey);
        await TestJobs.CreateRepoJobAsync(http, "p", "train");
        using var failing = new FailFirst(HttpStatusCode.GatewayTimeout, times: 2);
        using var client = Client(failing, TimeSpan.FromSeconds(30));

        var item = await client.EnqueueAsync(queue, new EnqueueRequest("train", "p", IdempotencyKey: "key-" + queue));

        Assert.Equal(queue, item.Queue);
        Assert.Equal(3, failing.Requests);
        Assert.Single((await admin.ListItemsAsync(queue)).Items);
    }

    [Fact]
    public async Task Read_WithoutRetryFor_FailsAtOnce()
    {
        using var failing = new FailFirst(HttpStatusCode.ServiceUnavailable, times: 1);
        using var client = Client(failing, TimeSpan.Zero);

        var refused = await Assert.ThrowsAsync<LiftoffException>(() => client.GetViewerAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(1, failing.Requests);
    }

    private LiftoffClient Client(HttpMessageHandler handler, TimeSpan retryFor) =>
        new(new LiftoffSettings(server.BaseUrl, server.AdminKey) { RetryFor = retryFor }, handler);

    /// <summary>Answers the first requests with <paramref name="status"/>, as a load balancer does while a replica goes away; then passes them on.</summary>
    private sealed class FailFirst(HttpStatusCode status, int times) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _requests) <= times)
            {
                return new HttpResponseMessage(status) { Content = new StringContent("<html>no server is available</html>") };
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
