using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Liftoff.Contracts;
using Liftoff.Server.Hosting;

namespace Liftoff.Server.Blobs;

/// <summary>
/// Blobs as objects <c>PREFIX/sha256/ab/abcdef…</c> in an S3-compatible bucket. Nothing is stored under a digest
/// before it is checked: uploads through the server hash as they stream and complete their multipart upload only
/// when the content matches; direct uploads land under <c>PREFIX/uploads/ENTITY/DIGEST/TOKEN</c> and, when the client
/// completes them, are read back and written under their digest the same way, then deleted.
/// A lifecycle rule on <c>PREFIX/uploads/</c> clears uploads their clients abandoned.
/// </summary>
internal sealed class S3BlobStore : IDirectBlobStore, IDisposable
{
    /// <summary>S3's smallest part (but the last) is 5 MiB; larger parts mean fewer requests, and a presigned part is sent in one go.</summary>
    internal const long DirectPartSize = 64L << 20;

    private const int ServerPartSize = 16 << 20;

    // Requests the server sends carry the SHA-256 of their body in their SigV4 signature (UseChunkEncoding = false,
    // since not every S3-compatible server reads aws-chunked bodies), which the bucket checks; the SDK's extra MD5 of
    // every body would be a third pass over the bytes for nothing, so it is turned off (DisableDefaultChecksumValidation).
    private const int MaxParts = 10_000;
    private const int HashBufferSize = 1 << 20;
    private static readonly TimeSpan UrlLifetime = TimeSpan.FromHours(1);

    private readonly AmazonS3Client _s3;
    private readonly S3BlobLocation _location;
    private readonly Protocol _protocol;

    public S3BlobStore(S3BlobLocation location, string? accessKeyId, string? secretAccessKey)
    {
        _location = location;
        var config = new AmazonS3Config
        {
            AuthenticationRegion = location.Region,
            // The SDK's default CRC trailers (aws-chunked bodies) are not understood by every S3-compatible server;
            // the content is checked by its SHA-256 here anyway.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (location.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.ForcePathStyle = true;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(location.Region);
        }

        _protocol = location.Endpoint?.Scheme == "http" ? Protocol.HTTP : Protocol.HTTPS;
        _s3 = accessKeyId is not null && secretAccessKey is not null
            ? new AmazonS3Client(new BasicAWSCredentials(accessKeyId, secretAccessKey), config)
            : new AmazonS3Client(config);
    }

    public async Task WriteAsync(string digest, long size, Stream content, CancellationToken cancellationToken)
    {
        var key = BlobKey(digest);
        if (await ExistsAsync(digest, cancellationToken))
        {
            await HashAsync(digest, size, content, null, cancellationToken);
            return;
        }

        if (size <= ServerPartSize)
        {
            var whole = new byte[size];
            await HashAsync(digest, size, content, new MemoryStream(whole), cancellationToken);
            using var body = new MemoryStream(whole, writable: false);
            await _s3.PutObjectAsync(new PutObjectRequest { BucketName = _location.Bucket, Key = key, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false, DisableDefaultChecksumValidation = true }, cancellationToken);
            return;
        }

        // Streamed in parts straight to the digest's key; the upload is completed only once the whole content checked out.
        var upload = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _location.Bucket, Key = key }, cancellationToken);
        try
        {
            await using var parts = new PartWriter(this, key, upload.UploadId!, cancellationToken);
            await HashAsync(digest, size, content, parts, cancellationToken);
            await parts.FlushAsync(cancellationToken);
            await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _location.Bucket,
                Key = key,
                UploadId = upload.UploadId,
                PartETags = parts.Tags,
            }, cancellationToken);
        }
        catch
        {
            await AbortAsync(key, upload.UploadId!);
            throw;
        }
    }

    public async Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken) => await SizeAsync(BlobKey(digest), cancellationToken) is not null;

    public async Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.GetObjectAsync(_location.Bucket, BlobKey(digest), cancellationToken);
            return new ResponseStream(response);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<BlobUpload> PlanUploadAsync(long entityId, string digest, long size, CancellationToken cancellationToken)
    {
        var token = Guid.NewGuid().ToString("N");
        var key = UploadKey(entityId, digest, token);
        if (size <= DirectPartSize)
        {
            var url = await PresignAsync(key, HttpVerb.PUT, null, 0);
            return new BlobUpload(digest, size, token, null, [new BlobUploadPart(1, 0, size, url)]);
        }

        var partSize = Math.Max(DirectPartSize, (size + MaxParts - 1) / MaxParts);
        var upload = await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _location.Bucket, Key = key }, cancellationToken);
        var parts = new List<BlobUploadPart>();
        for (var (number, offset) = (1, 0L); offset < size; number++, offset += partSize)
        {
            parts.Add(new BlobUploadPart(number, offset, Math.Min(partSize, size - offset), await PresignAsync(key, HttpVerb.PUT, upload.UploadId, number)));
        }

        return new BlobUpload(digest, size, token, upload.UploadId, parts);
    }

    public async Task CompleteUploadAsync(long entityId, string digest, BlobCompleteRequest upload, CancellationToken cancellationToken)
    {
        var key = UploadKey(entityId, digest, upload.Token!);
        try
        {
            if (upload.UploadId is { } uploadId)
            {
                await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
                {
                    BucketName = _location.Bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartETags = [.. upload.Parts!.Select(p => new PartETag(p.Number, p.Etag))],
                }, cancellationToken);
            }

            using var response = await _s3.GetObjectAsync(_location.Bucket, key, cancellationToken);
            if (response.ContentLength != upload.Size)
            {
                throw new BlobMismatchException("size", $"the upload is {response.ContentLength} bytes, not the {upload.Size} announced");
            }

            // Written under the digest from the very bytes that are hashed, never copied from the upload key: the
            // client can still PUT to its URLs, so the uploaded object could change between a check and a copy.
            await WriteAsync(digest, upload.Size, response.ResponseStream, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest)
        {
            throw new BlobMismatchException(ex.ErrorCode is "InvalidPart" or "InvalidPartOrder" or "EntityTooSmall" ? "parts" : "token",
                ex.ErrorCode is "NoSuchKey" or "NoSuchUpload" ? "nothing was uploaded under this token: PUT the parts to their URLs first" : $"the bucket refused to complete the upload: {ex.Message}");
        }
        finally
        {
            await _s3.DeleteObjectAsync(_location.Bucket, key, CancellationToken.None);
        }
    }

    public async Task<Uri> DownloadUrlAsync(string digest, CancellationToken cancellationToken) => new(await PresignAsync(BlobKey(digest), HttpVerb.GET, null, 0));

    public void Dispose() => _s3.Dispose();

    private string BlobKey(string digest) => $"{_location.Prefix}sha256/{digest[..2]}/{digest}";

    private string UploadKey(long entityId, string digest, string token) =>
        $"{_location.Prefix}uploads/{entityId.ToString(CultureInfo.InvariantCulture)}/{digest}/{token}";

    private Task<string> PresignAsync(string key, HttpVerb verb, string? uploadId, int partNumber)
    {
        var request = new GetPreSignedUrlRequest
        {
            BucketName = _location.Bucket,
            Key = key,
            Verb = verb,
            Protocol = _protocol,
            Expires = DateTime.UtcNow.Add(UrlLifetime),
        };
        if (uploadId is not null)
        {
            request.UploadId = uploadId;
            request.PartNumber = partNumber;
        }

        return _s3.GetPreSignedURLAsync(request);
    }

    private async Task<long?> SizeAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            return (await _s3.GetObjectMetadataAsync(_location.Bucket, key, cancellationToken)).ContentLength;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task AbortAsync(string key, string uploadId)
    {
        try
        {
            await _s3.AbortMultipartUploadAsync(_location.Bucket, key, uploadId, CancellationToken.None);
        }
        catch (AmazonS3Exception)
        {
            // Already gone, or the bucket's lifecycle rule will clear it; the failure being handled is the one to report.
        }
    }

    /// <summary>Reads exactly <paramref name="size"/> bytes, hashing them and optionally copying them to <paramref name="copy"/>.</summary>
    private static async Task HashAsync(string digest, long size, Stream content, Stream? copy, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(HashBufferSize);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long total = 0;
            int read;
            while ((read = await content.ReadAtLeastAsync(buffer.AsMemory(0, HashBufferSize), HashBufferSize, throwOnEndOfStream: false, cancellationToken)) > 0)
            {
                total += read;
                if (total > size)
                {
                    throw new BlobMismatchException("size", $"the content is longer than the {size} bytes announced");
                }

                hash.AppendData(buffer, 0, read);
                if (copy is not null)
                {
                    await copy.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            BlobMismatchException.ThrowIfDiffers(total, size, hash, digest);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Collects written bytes into parts of <see cref="ServerPartSize"/> and uploads each as it fills, up to
    /// <see cref="PartsInFlight"/> at once, so that reading and hashing go on while parts are sent.
    /// </summary>
    private sealed class PartWriter(S3BlobStore store, string key, string uploadId, CancellationToken cancellationToken) : Stream
    {
        private const int PartsInFlight = 4;
        private readonly SemaphoreSlim _slots = new(PartsInFlight);
        private readonly List<Task<PartETag>> _sending = [];
        private byte[] _part = ArrayPool<byte>.Shared.Rent(ServerPartSize);
        private int _filled;

        public List<PartETag> Tags { get; } = [];

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken token = default)
        {
            while (buffer.Length > 0)
            {
                var take = Math.Min(buffer.Length, ServerPartSize - _filled);
                buffer[..take].CopyTo(_part.AsMemory(_filled));
                _filled += take;
                buffer = buffer[take..];
                if (_filled == ServerPartSize)
                {
                    await SendAsync();
                }
            }
        }

        /// <summary>Sends the last part and waits for every part; <see cref="Tags"/> then lists them in order.</summary>
        public override async Task FlushAsync(CancellationToken token)
        {
            if (_filled > 0)
            {
                await SendAsync();
            }

            Tags.AddRange(await Task.WhenAll(_sending));
        }

        public override void Flush() => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            // After a failure parts may still be on their way: their buffers go back to the pool only once they are done.
            await ((Task)Task.WhenAll(_sending)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ArrayPool<byte>.Shared.Return(_part);
            _slots.Dispose();
            await base.DisposeAsync();
        }

        private async Task SendAsync()
        {
            await _slots.WaitAsync(cancellationToken);
            _sending.Add(UploadAsync(_part, _filled, _sending.Count + 1));
            _part = ArrayPool<byte>.Shared.Rent(ServerPartSize);
            _filled = 0;
        }

        private async Task<PartETag> UploadAsync(byte[] part, int length, int number)
        {
            try
            {
                using var body = new MemoryStream(part, 0, length, writable: false);
                var response = await store._s3.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = store._location.Bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartNumber = number,
                    InputStream = body,
                    PartSize = length,
                    UseChunkEncoding = false,
                    DisableDefaultChecksumValidation = true,
                }, cancellationToken);
                return new PartETag(number, response.ETag);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(part);
                _slots.Release();
            }
        }
    }

    /// <summary>An object's body that releases its response when disposed.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _body = response.ResponseStream;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => response.ContentLength;

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _body.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _body.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _body.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
