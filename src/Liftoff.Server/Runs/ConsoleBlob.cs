using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using System.Text.Json;
using Liftoff.Contracts;
using Liftoff.Server.Storage;

namespace Liftoff.Server.Runs;

/// <summary>
/// An archived console: gzip-compressed NDJSON, one <see cref="NumberedLogLine"/> a line, byte for byte what
/// <c>GET /api/v1/runs/{id}/logs</c> sends, so the read path decompresses it straight into the response.
/// </summary>
internal static class ConsoleBlob
{
    private const int PageSize = 10_000;
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    /// <summary>One console line as the read API sends it, newline included.</summary>
    public static async Task WriteLineAsync(Stream destination, StoredLogLine line, CancellationToken cancellationToken)
    {
        await JsonSerializer.SerializeAsync(destination, Numbered(line), LiftoffJsonContext.Default.NumberedLogLine, cancellationToken);
        await destination.WriteAsync(NewLine, cancellationToken);
    }

    /// <summary>
    /// Writes the run's stored lines below <paramref name="lines"/> to <paramref name="destination"/> as the blob's
    /// content, reading them from the store a page at a time, so a console of any size passes through in bounded memory.
    /// </summary>
    public static async Task WriteAsync(IRunStore store, string runId, long lines, Stream destination, CancellationToken cancellationToken)
    {
        await using var gzip = new GZipStream(destination, CompressionLevel.Fastest, leaveOpen: true);
        await using var buffered = new BufferedStream(gzip, 1 << 16);
        for (var after = -1L; ;)
        {
            var page = await store.ReadLogsAsync(runId, after, PageSize, cancellationToken);
            foreach (var line in page)
            {
                if (line.Line >= lines)
                {
                    return;
                }

                await WriteLineAsync(buffered, line, cancellationToken);
                after = line.Line;
            }

            if (page.Count < PageSize)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Sends the blob's lines numbered above <paramref name="after"/> to <paramref name="destination"/>: lines are
    /// parsed only until the first one to send, and everything from there on is copied as it decompresses.
    /// </summary>
    public static async Task CopyAsync(Stream blob, long after, PipeWriter destination, CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(new GZipStream(blob, CompressionMode.Decompress), new StreamPipeReaderOptions(bufferSize: 1 << 16));
        try
        {
            var skipping = after >= 0;
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                while (skipping && buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = buffer.Slice(0, end);
                    if (LineNumber(line) > after)
                    {
                        skipping = false;
                        break;
                    }

                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                }

                if (!skipping)
                {
                    foreach (var segment in buffer)
                    {
                        destination.Write(segment.Span);
                    }

                    buffer = buffer.Slice(buffer.End);
                    await destination.FlushAsync(cancellationToken);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private static NumberedLogLine Numbered(StoredLogLine line) => new(line.Line, line.Stream, line.Text, line.Time);

    /// <summary>The <c>line</c> number, the first property of every line <see cref="WriteLineAsync"/> writes.</summary>
    private static long LineNumber(ReadOnlySequence<byte> line)
    {
        var json = new Utf8JsonReader(line);
        if (json.Read() && json.TokenType == JsonTokenType.StartObject && json.Read() && json.ValueTextEquals("line"u8) && json.Read() && json.TryGetInt64(out var number))
        {
            return number;
        }

        throw new InvalidDataException("an archived console line does not start with its line number");
    }
}
