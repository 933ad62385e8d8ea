using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Liftoff.Cloud.Tests;

/// <summary>
/// A stand-in for a cloud API: a real HTTP server on 127.0.0.1 (Kestrel, a free port). Every request it refuses for
/// breaking the contract is kept in <see cref="Violations"/>, which the tests assert is empty: the agent must never
/// send what the real service would refuse.
/// </summary>
internal abstract class StandInHost : IAsyncDisposable
{
    private WebApplication? _app;

    public Uri BaseUrl { get; private set; } = new("http://127.0.0.1/");

    public ConcurrentQueue<string> Violations { get; } = new();

    /// <summary>Every request, as "METHOD path target", in order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    protected async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        _app = builder.Build();
        Map(_app);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
    }

    protected abstract void Map(WebApplication app);

    /// <summary>What the stand-in holds and has seen, for a failure message.</summary>
    public virtual string Dump() => "requests:\n  " + string.Join("\n  ", Requests) + "\nviolations:\n  " + string.Join("\n  ", Violations);

    /// <summary>Records a contract violation and returns its text for the error reply.</summary>
    protected string Violation(string what)
    {
        Violations.Enqueue(what);
        return what;
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
