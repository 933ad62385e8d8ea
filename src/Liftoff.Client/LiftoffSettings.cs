using System.Text.Json;
using System.Text.Json.Serialization;

namespace Liftoff.Client;

/// <summary>
/// Where to reach the server, with which key and as which entity: explicit values, else <c>LIFTOFF_BASE_URL</c> /
/// <c>LIFTOFF_API_KEY</c> / <c>LIFTOFF_ENTITY</c>, else the user config file that <c>liftoff login</c> and
/// <c>liftoff up</c> write.
/// </summary>
public sealed record LiftoffSettings(Uri BaseUrl, string ApiKey)
{
    /// <summary>
    /// The entity (a user or a team) whose projects, runs, artifacts, jobs, queues and secrets every request acts on;
    /// null: the server's choice, the key's user's default entity (else the user).
    /// </summary>
    public string? Entity { get; init; }

    /// <summary>
    /// How long a request that met a passing failure (the server unreachable, or a load balancer's 502/503/504 while a
    /// replica goes away) is tried again, on a capped, jittered backoff. Only requests that cannot take effect twice are
    /// resent after a failure that may have reached the server; others only when they certainly did not. Zero (the
    /// default, what a command line wants): fail at once. The agent sets a minute.
    /// </summary>
    public TimeSpan RetryFor { get; init; }

    /// <summary>The user config file: <c>$XDG_CONFIG_HOME/liftoff/config.json</c>, default <c>~/.config/liftoff/config.json</c>.</summary>
    public static string ConfigFilePath
    {
        get
        {
            var configHome = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            if (string.IsNullOrEmpty(configHome))
            {
                configHome = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            }

            return Path.Combine(configHome, "liftoff", "config.json");
        }
    }

    /// <summary>Resolves the settings, or throws <see cref="LiftoffException"/> saying how to provide them.</summary>
    public static LiftoffSettings Resolve(string? baseUrl = null, string? apiKey = null, string? entity = null)
    {
        var file = ReadConfigFile();
        baseUrl ??= Environment.GetEnvironmentVariable("LIFTOFF_BASE_URL") is { Length: > 0 } envUrl ? envUrl : file?.BaseUrl;
        apiKey ??= Environment.GetEnvironmentVariable("LIFTOFF_API_KEY") is { Length: > 0 } envKey ? envKey : file?.ApiKey;
        entity ??= Environment.GetEnvironmentVariable("LIFTOFF_ENTITY") is { Length: > 0 } envEntity ? envEntity : file?.Entity;
        if (string.IsNullOrEmpty(baseUrl) || string.IsNullOrEmpty(apiKey))
        {
            throw new LiftoffException(
                $"no Liftoff server configured: run 'liftoff login' (or 'liftoff up'), or set LIFTOFF_BASE_URL and LIFTOFF_API_KEY (looked in {ConfigFilePath})");
        }

        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new LiftoffException($"'{baseUrl}' is not an http(s) URL");
        }

        return new LiftoffSettings(url, apiKey) { Entity = string.IsNullOrEmpty(entity) ? null : entity };
    }

    /// <summary>Writes the user config file, readable by its owner only (mode 0600).</summary>
    public void Save()
    {
        var path = ConfigFilePath;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(stream, new ConfigFile(BaseUrl.ToString().TrimEnd('/'), ApiKey, Entity), SettingsJsonContext.Default.ConfigFile);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The settings stored in the user config file, if there is one.</summary>
    public static LiftoffSettings? Load() =>
        ReadConfigFile() is { BaseUrl: { } url, ApiKey: { } key } file && Uri.TryCreate(url, UriKind.Absolute, out var uri)
            ? new LiftoffSettings(uri, key) { Entity = file.Entity }
            : null;

    /// <summary>Never prints the key.</summary>
    public override string ToString() => $"LiftoffSettings {{ BaseUrl = {BaseUrl}, Entity = {Entity} }}";

    private static ConfigFile? ReadConfigFile()
    {
        try
        {
            using var stream = File.OpenRead(ConfigFilePath);
            return JsonSerializer.Deserialize(stream, SettingsJsonContext.Default.ConfigFile);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (JsonException ex)
        {
            throw new LiftoffException($"{ConfigFilePath} is not valid JSON ({ex.Message}); run 'liftoff login' to rewrite it");
        }
    }
}

/// <summary>The user config file; <see cref="Entity"/> is omitted when unset.</summary>
internal sealed record ConfigFile(string? BaseUrl, string? ApiKey, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Entity = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ConfigFile))]
internal sealed partial class SettingsJsonContext : JsonSerializerContext;
