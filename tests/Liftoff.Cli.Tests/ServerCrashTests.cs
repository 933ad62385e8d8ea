using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Liftoff.Client;
using Liftoff.Contracts;
using Liftoff.Testing;
using Xunit;

namespace Liftoff.Cli.Tests;

public sealed class ServerCrashTests
{
    [Fact]
    public async Task Server_KilledDuringAnEnqueueBurst_KeepsEveryAcknowledgedItemAndDoublesNone()
    {
        using var home = new TempDirectory();
        var cli = new Cli(home.Path);
        var data = Path.Combine(home.Path, "data");
        var port = LoopbackPort.Free();
        var url = new Uri($"http://127.0.0.1:{port}");
        string key;
        using (var first = cli.Start("server", "--data-dir", data, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            key = (await first.StandardOutput.ReadLineAsync())!;
            using var setupClient = new LiftoffClient(new LiftoffSettings(url, key));
            using (var http = new HttpClient { BaseAddress = url })
            {
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
                await TestJobs.CreateRepoJobAsync(http, "p", "train");
            }

            await setupClient.CreateQueueAsync(new CreateQueueRequest("q", Resources.LocalProcess));
            var acknowledged = new ConcurrentBag<(string Key, string Item)>();
            var keys = Enumerable.Range(0, 1000).Select(i => $"burst-{i}").ToList();
            var burst = Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (k, ct) =>
            {
                try
                {
                    var item = await setupClient.EnqueueAsync("q", new EnqueueRequest("train", "p", IdempotencyKey: k), ct);
                    acknowledged.Add((k, item.Id));
                }
                catch (LiftoffException)
                {
                    // The server died under this request: not acknowledged, so nothing is promised about it.
                }
            });
            await Poll.UntilAsync(() => Task.FromResult(acknowledged.Count), n => n >= 200, TimeSpan.FromSeconds(60), "part of the burst to be acknowledged");
            first.Kill();
            await first.WaitForExitAsync();
            await burst;

            Assert.InRange(acknowledged.Count, 200, 999);
            using var second = cli.Start("server", "--data-dir", data, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            try
            {
                await Poll.UntilAsync(async () =>
                {
                    try
                    {
                        return (await setupClient.GetViewerAsync()).Entity;
                    }
                    catch (LiftoffException)
                    {
                        return null;
                    }
                }, e => e is not null, TimeSpan.FromSeconds(60), "the restarted server to answer");

                foreach (var (k, itemId) in acknowledged)
                {
                    Assert.Equal("pending", (await setupClient.GetItemAsync(itemId)).State);
                }

                var retried = new ConcurrentDictionary<string, string>();
                await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (k, ct) =>
                    retried[k] = (await setupClient.EnqueueAsync("q", new EnqueueRequest("train", "p", IdempotencyKey: k), ct)).Id);

                Assert.All(acknowledged, a => Assert.Equal(a.Item, retried[a.Key]));
                Assert.Equal(1000, retried.Values.Distinct().Count());
                Assert.Equal(1000, (await setupClient.GetQueueAsync("q")).Depth);
            }
            finally
            {
                second.Kill();
                await second.WaitForExitAsync();
            }
        }
    }

}
