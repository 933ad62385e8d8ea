using System.Globalization;
using Npgsql;

namespace Liftoff.Server.Hosting;

/// <summary>
/// Where the store lives, as given by <c>--database</c> or <c>LIFTOFF_DATABASE</c>: nothing (SQLite in the data
/// directory), <c>sqlite://PATH</c>, a <c>postgres://user:pass@host:port/db</c> URL, or an Npgsql <c>Host=…;</c>
/// connection string. <see cref="ToString"/> never shows the password: it is the one form that may be printed or logged.
/// </summary>
public abstract class DatabaseLocation
{
    /// <summary>The environment variable read when <c>--database</c> is not given.</summary>
    public const string EnvironmentVariable = "LIFTOFF_DATABASE";

    /// <summary>Parses <paramref name="value"/>; throws <see cref="FormatException"/> with a reason a person can act on.</summary>
    public static DatabaseLocation Parse(string? value, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        if (string.IsNullOrWhiteSpace(value))
        {
            return new SqliteDatabaseLocation(Path.Combine(dataDirectory, "liftoff.db"));
        }

        value = value.Trim();
        if (value.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            return new SqliteDatabaseLocation(SqlitePath(value, dataDirectory));
        }

        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return new PostgresDatabaseLocation(FromUrl(value));
        }

        if (value.Contains('=', StringComparison.Ordinal))
        {
            NpgsqlConnectionStringBuilder builder;
            try
            {
                builder = new NpgsqlConnectionStringBuilder(value);
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"the database connection string is not valid: {ex.Message}", ex);
            }

            return string.IsNullOrEmpty(builder.Host)
                ? throw new FormatException("the database connection string names no Host")
                : new PostgresDatabaseLocation(builder);
        }

        throw new FormatException("the database is sqlite://PATH, postgres://user:password@host:port/database, or a Host=…;Database=…; connection string");
    }

    /// <summary><c>sqlite:///abs/path</c>, <c>sqlite://relative/path</c>; a directory means its <c>liftoff.db</c>.</summary>
    private static string SqlitePath(string value, string dataDirectory)
    {
        var path = value["sqlite:".Length..];
        path = path.StartsWith("//", StringComparison.Ordinal) ? path[2..] : path;
        path = Uri.UnescapeDataString(path);
        if (path.Length == 0)
        {
            return Path.Combine(dataDirectory, "liftoff.db");
        }

        path = Path.GetFullPath(path);
        return Directory.Exists(path) ? Path.Combine(path, "liftoff.db") : path;
    }

    private static NpgsqlConnectionStringBuilder FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException("the database URL is not valid: expected postgres://user:password@host:port/database");
        }

        var builder = new NpgsqlConnectionStringBuilder { Host = uri.IdnHost, Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var setting = Uri.UnescapeDataString(equals < 0 ? "" : pair[(equals + 1)..]);
            try
            {
                // libpq's names where Npgsql's differ; otherwise snake_case names the Npgsql keyword (search_path → Search Path).
                builder[key switch
                {
                    "connect_timeout" => "Timeout",
                    "sslmode" => "SSL Mode",
                    _ => key.Replace('_', ' '),
                }] = setting;
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"the database URL parameter '{key}' is not valid: {ex.Message}", ex);
            }
        }

        return builder;
    }
}

/// <summary>The embedded store: one SQLite file.</summary>
public sealed class SqliteDatabaseLocation(string path) : DatabaseLocation
{
    public string Path { get; } = path;

    public override string ToString() => "sqlite://" + Path;
}

/// <summary>A PostgreSQL database, shared by any number of server replicas.</summary>
public sealed class PostgresDatabaseLocation : DatabaseLocation
{
    private readonly NpgsqlConnectionStringBuilder _builder;

    internal PostgresDatabaseLocation(NpgsqlConnectionStringBuilder builder)
    {
        _builder = builder;
    }

    /// <summary>The Npgsql connection string, password included: give it to Npgsql, never to a log.</summary>
    public string ConnectionString => _builder.ConnectionString;

    public override string ToString()
    {
        var schema = string.IsNullOrEmpty(_builder.SearchPath) ? "" : "?search_path=" + Uri.EscapeDataString(_builder.SearchPath);
        var user = string.IsNullOrEmpty(_builder.Username) ? "" : Uri.EscapeDataString(_builder.Username) + "@";
        return string.Create(CultureInfo.InvariantCulture, $"postgres://{user}{_builder.Host}:{_builder.Port}/{_builder.Database}{schema}");
    }
}
