using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Liftoff.Core.Json;

/// <summary>
/// What JSON allows but nothing downstream can keep: a string that is not valid Unicode (a lone UTF-16 surrogate
/// such as <c>"\ud800"</c>, or bytes that are not UTF-8) cannot be written back out, and a number beyond the range
/// of a double cannot be read as one. Either, once stored, would break every later answer that renders it, so a
/// request holding one is refused before anything is stored.
/// </summary>
public static partial class JsonText
{
    public const string NotUnicode = "is not valid Unicode (it holds a lone surrogate or bytes that are not UTF-8)";

    public const string BeyondDouble = "is a number beyond the range of a double (about ±1.8e308)";

    public const string HoldsNul = "holds a NUL character (U+0000), which PostgreSQL cannot store";

    /// <summary>
    /// The first string or number of <paramref name="utf8"/> that could not be kept, named by its JSON path under
    /// <paramref name="root"/> (e.g. <c>config.lr</c>, <c>rows[3].values.loss</c>); null when there is none, and when
    /// the text is not JSON at all (whoever parses it says why).
    /// </summary>
    /// <remarks>
    /// A NUL character (<c>\u0000</c>) is unkeepable too, unless <paramref name="keepNul"/>: console text, where a program
    /// printed it, keeps it as U+FFFD (<see cref="ConsoleText"/>).
    /// </remarks>
    public static FieldError? FindUnkeepable(ReadOnlySpan<byte> utf8, string root = "", bool keepNul = false) =>
        // The first pass names nothing and so allocates nothing (decoding every key of a history batch was most of this
        // check's cost); only a request that holds something unkeepable is read again for the field's path.
        Scan(utf8, root, withPath: false, keepNul) is null ? null : Scan(utf8, root, withPath: true, keepNul);

    /// <summary>A console line as the store keeps it: a NUL, which PostgreSQL cannot store, becomes U+FFFD on every store.</summary>
    public static string ConsoleText(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return line.Replace('\0', '\ufffd');
    }

    private static FieldError? Scan(ReadOnlySpan<byte> utf8, string root, bool withPath, bool keepNul)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 256 });
        var frames = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        if (Problem(ref reader, out var name, always: withPath, keepNul) is { } keyProblem)
                        {
                            return new FieldError(Path(root, frames), "a key " + keyProblem);
                        }

                        if (withPath)
                        {
                            frames[^1].Name = name;
                        }

                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray when withPath:
                        Advance(frames);
                        frames.Add(new Frame { IsArray = reader.TokenType == JsonTokenType.StartArray });
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray when withPath:
                        frames.RemoveAt(frames.Count - 1);
                        break;
                    case JsonTokenType.String:
                        Advance(frames);
                        if (Problem(ref reader, out _, always: false, keepNul) is { } problem)
                        {
                            return new FieldError(Path(root, frames), problem);
                        }

                        break;
                    case JsonTokenType.Number:
                        Advance(frames);
                        if (!FitsADouble(reader.ValueSpan) && (!reader.TryGetDouble(out var number) || !double.IsFinite(number)))
                        {
                            return new FieldError(Path(root, frames), BeyondDouble);
                        }

                        break;
                    default:
                        Advance(frames);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return null;
    }

    /// <summary>The same check over JSON held in a string (a wandb client's JSONString, a file-stream line).</summary>
    public static FieldError? FindUnkeepable(string json, string root)
    {
        ArgumentNullException.ThrowIfNull(json);
        return IsValidUnicode(json) ? FindUnkeepable(Encoding.UTF8.GetBytes(json), root) : new FieldError(root, NotUnicode);
    }

    /// <summary>
    /// Stored JSON made fit to render, for a row written before these checks or behind the API's back: each lone
    /// surrogate (escaped or raw) becomes U+FFFD, the mark of a replaced character; text that is no JSON at all comes back
    /// as an object whose one key, <see cref="UnreadableKey"/>, flags it and holds the text. Sound JSON comes back unchanged.
    /// </summary>
    public static JsonElement ReadableElement(string storedJson)
    {
        ArgumentNullException.ThrowIfNull(storedJson);
        var text = MayHoldLoneSurrogate(storedJson) && FindUnkeepable(storedJson, "") is { Message: NotUnicode } ? Repair(storedJson) : storedJson;
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(new Dictionary<string, string> { [UnreadableKey] = Repair(text) }, JsonTextContext.Default.DictionaryStringString);
        }
    }

    /// <summary>The text of <see cref="ReadableElement"/>, for a reader that deserializes it.</summary>
    public static string Readable(string storedJson) => ReadableElement(storedJson).GetRawText();

    /// <summary>Only text with an escape or a surrogate can hold a lone one; the rest (nearly all) skips the scan.</summary>
    private static bool MayHoldLoneSurrogate(string json) =>
        json.Contains("\\u", StringComparison.Ordinal) || json.AsSpan().IndexOfAnyInRange('\ud800', '\udfff') >= 0;

    public const string UnreadableKey = "_unreadable";

    private static string Repair(string text)
    {
        var escaped = LoneSurrogateEscape().Replace(text, "\\ufffd");
        var repaired = new StringBuilder(escaped.Length);
        for (var i = 0; i < escaped.Length; i++)
        {
            if (char.IsHighSurrogate(escaped[i]) && i + 1 < escaped.Length && char.IsLowSurrogate(escaped[i + 1]))
            {
                repaired.Append(escaped, i++, 2);
            }
            else
            {
                repaired.Append(char.IsSurrogate(escaped[i]) ? '\ufffd' : escaped[i]);
            }
        }

        return repaired.ToString();
    }

    /// <summary>
    /// A <c>\uD800</c>-<c>\uDBFF</c> escape not followed by a low one, or a <c>\uDC00</c>-<c>\uDFFF</c> escape not
    /// after a high one; an escape only when an odd number of backslashes leads up to it.
    /// </summary>
    [GeneratedRegex(@"(?<=(?:^|[^\\])(?:\\\\)*)(?:\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")]
    private static partial Regex LoneSurrogateEscape();

    /// <summary>Whether the text is well-formed UTF-16: every surrogate is one of a pair.</summary>
    public static bool IsValidUnicode(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A number without an exponent and under 300 characters is below 1e300, so it is finite without being parsed:
    /// parsing every number of a history batch was most of this check's cost.
    /// </summary>
    private static bool FitsADouble(ReadOnlySpan<byte> number) => number.Length < 300 && number.IndexOfAny((byte)'e', (byte)'E') < 0;

    /// <summary>
    /// Why the string token cannot be kept (<see cref="NotUnicode"/>, <see cref="HoldsNul"/>), or null. Decodes it only
    /// when it could be bad (or <paramref name="always"/>): most strings are plain ASCII, and a NUL is always escaped.
    /// </summary>
    private static string? Problem(ref Utf8JsonReader reader, out string? value, bool always, bool keepNul)
    {
        value = null;
        if (!always && !reader.ValueIsEscaped && System.Text.Unicode.Utf8.IsValid(reader.ValueSpan))
        {
            return null;
        }

        try
        {
            value = reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return NotUnicode;
        }

        return value is null ? null
            : !IsValidUnicode(value) ? NotUnicode
            : !keepNul && value.Contains('\0', StringComparison.Ordinal) ? HoldsNul
            : null;
    }

    private static void Advance(List<Frame> frames)
    {
        if (frames.Count > 0 && frames[^1].IsArray)
        {
            frames[^1].Index++;
        }
    }

    private static string Path(string root, List<Frame> frames)
    {
        var path = new StringBuilder(root);
        foreach (var frame in frames)
        {
            if (frame.IsArray)
            {
                path.Append('[').Append(frame.Index).Append(']');
            }
            else if (frame.Name is not null)
            {
                path.Append(path.Length == 0 ? "" : ".").Append(frame.Name);
            }
        }

        return path.ToString();
    }

    private sealed class Frame
    {
        public bool IsArray { get; init; }

        public int Index { get; set; } = -1;

        public string? Name { get; set; }
    }
}

[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class JsonTextContext : JsonSerializerContext;
