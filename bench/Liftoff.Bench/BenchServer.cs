using Liftoff.Client;
using Liftoff.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Liftoff.Bench;

/// <summary>A real server on a free loopback port with SQLite in a temp directory, and a key for the benchmark.</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private readonly string _data;

    private BenchServer(LiftoffServer server, string data, string key)
    {
        Server = server;
        _data = data;
        Key = key;
    }

    public LiftoffServer Server { get; }

    public string Key { get; }

    public LiftoffClient Client() => new(new LiftoffSettings(Server.BaseUrl, Key));

    public static async Task<BenchServer> StartAsync()
    {
        var data = Directory.CreateTempSubdirectory("liftoff-bench-").FullName;
        var server = await LiftoffServer.StartAsync(new ServerOptions { DataDirectory = data, Port = 0 }, logging => logging.AddFilter(_ => false));
        return new BenchServer(server, data, server.InitialAdminKey!);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_data, recursive: true);
    }
}
