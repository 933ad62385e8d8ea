using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Liftoff.Contracts;
using Spectre.Console;

namespace Liftoff.Cli;

/// <summary>Data to stdout (JSON or tables), people's messages to stderr.</summary>
internal static class Output
{
    private static readonly JsonSerializerOptions Indented = new(LiftoffJson.Options) { WriteIndented = true };

    public static void Json<T>(T value, JsonTypeInfo<T> type) => Console.WriteLine(IndentedJson(value, type));

    /// <summary>Indented wire JSON, through the source-generated <paramref name="type"/> (no reflection: the client is Native AOT).</summary>
    public static string IndentedJson<T>(T value, JsonTypeInfo<T> type) =>
        JsonSerializer.Serialize(value, (JsonTypeInfo<T>)Indented.GetTypeInfo(type.Type));

    public static void Table(Table table)
    {
        // Piped output is read by scripts and greps: never wrap a cell there.
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 250;
        }

        AnsiConsole.Write(table);
    }

    public static string Time(DateTimeOffset? time) =>
        time?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";

    public static string Duration(DateTimeOffset? start, DateTimeOffset? end)
    {
        if (start is null)
        {
            return "-";
        }

        var span = (end ?? DateTimeOffset.UtcNow) - start.Value;
        return span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:00}m" : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s" : $"{span.TotalSeconds:0.0}s";
    }

    /// <summary>Bytes in binary units, as people read sizes: 512 B, 3.2 KiB, 41.0 MiB.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var value = (double)bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    public static string Age(double seconds) =>
        seconds >= 3600 ? $"{seconds / 3600:0.#}h" : seconds >= 60 ? $"{seconds / 60:0.#}m" : $"{seconds:0}s";

    public static string StateMarkup(string state) => state switch
    {
        RunStates.Running => "[blue]running[/]",
        RunStates.Finished => "[green]finished[/]",
        RunStates.Failed => "[red]failed[/]",
        RunStates.Crashed => "[red]crashed[/]",
        RunStates.Killed => "[yellow]killed[/]",
        _ => Markup.Escape(state),
    };
}
