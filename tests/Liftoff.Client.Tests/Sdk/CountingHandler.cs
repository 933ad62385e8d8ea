namespace Liftoff.Client.Tests.Sdk;

/// <summary>Counts blob uploads and the bytes their bodies announce, as they go over the wire.</summary>
internal sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private long _blobPuts;
    private long _blobBytes;

    public long BlobPuts => Interlocked.Read(ref _blobPuts);

    public long BlobBytes => Interlocked.Read(ref _blobBytes);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method == HttpMethod.Put && request.RequestUri!.AbsolutePath.Contains("/api/v1/blobs/", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _blobPuts);
            Interlocked.Add(ref _blobBytes, request.Content?.Headers.ContentLength ?? 0);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
