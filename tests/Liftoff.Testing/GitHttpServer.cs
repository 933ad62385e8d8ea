using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Liftoff.Testing;

/// <summary>
/// git's smart HTTP protocol on 127.0.0.1: <c>git http-backend</c> (CGI) behind an HttpListener. With a token it
/// demands HTTP Basic credentials whose password is the token (any user name), as private repository hosts do; without
/// one it serves anyone, as a public host does. Jobs' git remotes must be on another machine, so tests clone over it.
/// </summary>
public sealed class GitHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _root;
    private readonly string? _token;
    private readonly Task _loop;

    public GitHttpServer(string root, string? token = null)
    {
        _root = root;
        _token = token;
        var port = LoopbackPort.Free();
        BaseUrl = $"http://127.0.0.1:{port}/";
        _listener.Prefixes.Add(BaseUrl);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string BaseUrl { get; }

    public int Unauthorized { get; private set; }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _listener.Close();
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            await ServeAsync(context);
        }
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        using var response = context.Response;
        if (!IsAuthorized(context.Request.Headers["Authorization"]))
        {
            Unauthorized++;
            response.StatusCode = 401;
            response.AddHeader("WWW-Authenticate", "Basic realm=\"git\"");
            return;
        }

        var info = new ProcessStartInfo("git", ["http-backend"]) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.Environment["GIT_PROJECT_ROOT"] = _root;
        info.Environment["GIT_HTTP_EXPORT_ALL"] = "1";
        info.Environment["REQUEST_METHOD"] = context.Request.HttpMethod;
        info.Environment["PATH_INFO"] = context.Request.Url!.AbsolutePath;
        info.Environment["QUERY_STRING"] = context.Request.Url.Query.TrimStart('?');
        info.Environment["CONTENT_TYPE"] = context.Request.ContentType ?? "";
        info.Environment["REMOTE_USER"] = "test";
        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var cgi = Process.Start(info)!;
        await context.Request.InputStream.CopyToAsync(cgi.StandardInput.BaseStream);
        cgi.StandardInput.Close();
        using var output = new MemoryStream();
        await cgi.StandardOutput.BaseStream.CopyToAsync(output);
        await cgi.WaitForExitAsync();
        var bytes = output.ToArray();
        var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        var separator = 4;
        if (split < 0)
        {
            split = bytes.AsSpan().IndexOf("\n\n"u8);
            separator = 2;
        }

        foreach (var line in Encoding.ASCII.GetString(bytes, 0, split).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (name, value) = (line[..colon], line[(colon + 1)..].Trim());
            if (name.Equals("Status", StringComparison.OrdinalIgnoreCase))
            {
                response.StatusCode = int.Parse(value.AsSpan(0, 3), System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                response.ContentType = value;
            }
            else
            {
                response.AddHeader(name, value);
            }
        }

        await response.OutputStream.WriteAsync(bytes.AsMemory(split + separator));
    }

    private bool IsAuthorized(string? header)
    {
        if (_token is null)
        {
            return true;
        }

        if (header is null || !header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return false;
        }

        var credentials = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
        return credentials[(credentials.IndexOf(':', StringComparison.Ordinal) + 1)..] == _token;
    }

}
